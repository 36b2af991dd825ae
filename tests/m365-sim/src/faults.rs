//! Deterministic fault injection for data endpoints (never the token endpoint or `/_sim`).
//!
//! Each data request takes the next number from a counter; the decision for request `n` is a
//! function of `(seed, n)` alone, so a test that sends the same sequence of requests sees the same
//! faults. With probability `fault_429` the answer is a throttle; with probability `fault_5xx` it
//! is a server error, alternating 500 and 503 (the first is a 500).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::rng::{Rng, hash_str, seed_of};

/// An injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After`.
    Throttle,
    /// HTTP 500 (`UnknownError`).
    Internal,
    /// HTTP 503 (`ServiceUnavailable`).
    Unavailable,
}

/// The fault dice.
#[derive(Debug)]
pub struct Faults {
    seed: u64,
    /// Probabilities as `f64` bits, so `/_sim/faults` can change them while serving.
    p_429: AtomicU64,
    p_5xx: AtomicU64,
    /// Extra delay of every data response, in milliseconds.
    latency_ms: AtomicU64,
    requests: AtomicU64,
    server_errors: AtomicU64,
}

impl Faults {
    /// Dice for these probabilities (each clamped to `[0, 1]`).
    pub fn new(seed: u64, p_429: f64, p_5xx: f64) -> Self {
        let faults = Self {
            seed,
            p_429: AtomicU64::new(0),
            p_5xx: AtomicU64::new(0),
            latency_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
        };
        faults.set(p_429, p_5xx);
        faults
    }

    /// Changes the probabilities (each clamped to `[0, 1]`).
    pub fn set(&self, p_429: f64, p_5xx: f64) {
        let clamp = |p: f64| {
            if p.is_finite() {
                p.clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        self.p_429.store(clamp(p_429).to_bits(), Ordering::Relaxed);
        self.p_5xx.store(clamp(p_5xx).to_bits(), Ordering::Relaxed);
    }

    /// Sets the delay added to every data response.
    pub fn set_latency_ms(&self, ms: u64) {
        self.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// The delay added to every data response.
    pub fn latency_ms(&self) -> u64 {
        self.latency_ms.load(Ordering::Relaxed)
    }

    /// The current probabilities `(fault_429, fault_5xx)`.
    pub fn rates(&self) -> (f64, f64) {
        (
            f64::from_bits(self.p_429.load(Ordering::Relaxed)),
            f64::from_bits(self.p_5xx.load(Ordering::Relaxed)),
        )
    }

    /// Rolls for the next data request.
    pub fn roll(&self) -> Option<Fault> {
        let (p_429, p_5xx) = self.rates();
        if p_429 <= 0.0 && p_5xx <= 0.0 {
            return None;
        }
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let u = Rng::new(seed_of(&[self.seed, hash_str("faults"), n])).unit();
        if u < p_429 {
            Some(Fault::Throttle)
        } else if u < p_429 + p_5xx {
            if self
                .server_errors
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(2)
            {
                Some(Fault::Internal)
            } else {
                Some(Fault::Unavailable)
            }
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_roughly_right_and_reproducible() {
        let a = Faults::new(1, 0.2, 0.1);
        let b = Faults::new(1, 0.2, 0.1);
        let rolls_a: Vec<_> = (0..5000).map(|_| a.roll()).collect();
        let rolls_b: Vec<_> = (0..5000).map(|_| b.roll()).collect();
        assert_eq!(rolls_a, rolls_b);
        let throttles = rolls_a
            .iter()
            .filter(|f| **f == Some(Fault::Throttle))
            .count();
        let internal = rolls_a
            .iter()
            .filter(|f| **f == Some(Fault::Internal))
            .count();
        let unavailable = rolls_a
            .iter()
            .filter(|f| **f == Some(Fault::Unavailable))
            .count();
        assert!((850..1150).contains(&throttles), "{throttles}");
        assert!(internal.abs_diff(unavailable) <= 1);
        assert!((400..600).contains(&(internal + unavailable)));
        assert_eq!(Faults::new(1, 0.0, 0.0).roll(), None);
    }
}
