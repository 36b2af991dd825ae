//! Microsoft 365 tenant simulator.
