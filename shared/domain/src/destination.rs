//! Where a notification or a forwarded event may go, and how a receiver knows it came from this
//! stack. Every destination a user configures is an `https` URL whose host is on the allow-list
//! (`hooks.example.com`, `*.example.org`, optionally with `:port`); at delivery time every
//! address the host resolves to must be a public one (no private, loopback, link-local,
//! metadata, shared, documentation, multicast or reserved address, IPv4 or IPv6, mapped or
//! translated), and the connection is made to those vetted addresses only, so a DNS answer that
//! changes between the check and the connection cannot redirect it. Redirects are never followed.
//!
//! Signature (DESIGN "Webhook signature"): `auditlake-signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256 of "<t>.<body>">` with the destination's secret; a receiver recomputes it over the
//! raw body and refuses a `t` older than a few minutes. `auditlake-delivery: <id>` is the same on
//! every retry of one delivery, so a receiver can drop a repeat.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{KeyInit, Mac};

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("`{0}` is not a URL")]
    NotAUrl(String),
    #[error("{0}: only https destinations are allowed")]
    NotHttps(String),
    #[error("{0}: a destination may not carry a user name or password")]
    Credentials(String),
    #[error("{0}: the host is not on the allow-list")]
    NotAllowed(String),
    #[error("{host} resolves to {addr}, which is not a public address")]
    PrivateAddress { host: String, addr: IpAddr },
    #[error("{0} resolves to no address")]
    Unresolved(String),
}

/// One allow-list entry: a host or `*.` and a domain suffix, and optionally a port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

/// The hosts destinations may name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    entries: Vec<Entry>,
}

impl Allowlist {
    /// Parses a comma-separated list (`hooks.slack.com,*.example.org,siem.corp.example:8088`).
    pub fn parse(text: &str) -> Result<Allowlist, String> {
        let mut entries = Vec::new();
        for raw in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (host, port) = match raw.rsplit_once(':') {
                Some((h, p)) => {
                    let port = p
                        .parse::<u16>()
                        .map_err(|_| format!("`{raw}`: `{p}` is not a port"))?;
                    (h, Some(port))
                }
                None => (raw, None),
            };
            let (host, wildcard) = match host.strip_prefix("*.") {
                Some(rest) => (rest, true),
                None => (host, false),
            };
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            if host.is_empty()
                || host.contains('*')
                || !host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(format!("`{raw}` is not a host name or `*.domain`"));
            }
            if host.parse::<IpAddr>().is_ok() {
                return Err(format!(
                    "`{raw}`: name destinations by host name, not by address"
                ));
            }
            entries.push(Entry {
                host,
                wildcard,
                port,
            });
        }
        Ok(Allowlist { entries })
    }

    fn allows(&self, host: &str, port: u16) -> bool {
        self.entries.iter().any(|e| {
            let host_ok = if e.wildcard {
                host.len() > e.host.len()
                    && host.ends_with(&e.host)
                    && host.as_bytes()[host.len() - e.host.len() - 1] == b'.'
            } else {
                host == e.host
            };
            host_ok && e.port.unwrap_or(443) == port
        })
    }

    /// Checks a destination URL against the list (before any DNS lookup): https, no
    /// credentials, a host name (not an address) on the list, its port as listed (443 unless
    /// the entry names one). Returns the host and port to resolve.
    pub fn check(&self, url: &str) -> Result<(String, u16), Refused> {
        let parsed = url::Url::parse(url).map_err(|_| Refused::NotAUrl(url.to_owned()))?;
        if parsed.scheme() != "https" {
            return Err(Refused::NotHttps(url.to_owned()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Refused::Credentials(url.to_owned()));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
            // An address literal is never on the list (it names no host).
            Some(_) | None => return Err(Refused::NotAllowed(url.to_owned())),
        };
        let port = parsed.port_or_known_default().unwrap_or(443);
        if !self.allows(&host, port) {
            return Err(Refused::NotAllowed(url.to_owned()));
        }
        Ok((host, port))
    }
}

/// Whether `ip` is an address a destination may connect to: a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: the instance metadata service among them
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10, shared address space (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24, IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15, benchmarking
        || o[0] >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // 64:ff9b::/96, NAT64: the IPv4 address it translates to decides.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7, unique local (fd00:ec2::254 is EC2's metadata)
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10, link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[0..6] == [0, 0, 0, 0, 0, 0]) // ::/96, IPv4-compatible and other reserved forms
}

/// Every address of a destination, each checked: one that is not public refuses the whole
/// destination (a host must not answer with a mix of public and private addresses).
pub fn vet(host: &str, addrs: &[SocketAddr]) -> Result<Vec<SocketAddr>, Refused> {
    if addrs.is_empty() {
        return Err(Refused::Unresolved(host.to_owned()));
    }
    for a in addrs {
        if !is_public(a.ip()) {
            return Err(Refused::PrivateAddress {
                host: host.to_owned(),
                addr: a.ip(),
            });
        }
    }
    Ok(addrs.to_vec())
}

/// The `auditlake-signature` header value for `body` sent at unix time `t`.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Allowlist {
        Allowlist::parse("hooks.example.com, *.siem.example.org, collector.example.net:8088")
            .unwrap()
    }

    #[test]
    fn only_https_urls_of_listed_hosts_and_ports_pass() {
        let l = list();
        assert_eq!(
            l.check("https://hooks.example.com/services/T1").unwrap(),
            ("hooks.example.com".into(), 443)
        );
        assert!(
            l.check("https://HOOKS.example.com./x").is_ok(),
            "case and trailing dot"
        );
        assert!(l.check("https://eu.siem.example.org/ingest").is_ok());
        assert!(
            l.check("https://collector.example.net:8088/services/collector")
                .is_ok()
        );
        for (url, why) in [
            ("http://hooks.example.com/x", "plain http"),
            ("https://evil.example/x", "not listed"),
            ("https://hooks.example.com.evil.example/x", "a suffix trick"),
            (
                "https://siem.example.org/x",
                "the wildcard's own domain is not a subdomain",
            ),
            (
                "https://xsiem.example.org/x",
                "a name ending in the suffix without a dot",
            ),
            ("https://hooks.example.com:8443/x", "another port"),
            ("https://collector.example.net/x", "the listed port only"),
            ("https://user:pw@hooks.example.com/x", "credentials"),
            (
                "https://169.254.169.254/latest/meta-data",
                "an address literal",
            ),
            ("https://[::1]/x", "an IPv6 literal"),
            ("file:///etc/passwd", "another scheme"),
            ("not a url", "garbage"),
        ] {
            assert!(l.check(url).is_err(), "{why}: {url} passed");
        }
    }

    #[test]
    fn allow_list_entries_are_checked() {
        assert!(Allowlist::parse("10.0.0.1").is_err());
        assert!(Allowlist::parse("a*.example.com").is_err());
        assert!(Allowlist::parse("hooks.example.com:99999").is_err());
        assert!(Allowlist::parse("hooks/example").is_err());
        assert_eq!(Allowlist::parse(" , ").unwrap(), Allowlist::default());
    }

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.170",
            "198.18.0.1",
            "192.0.2.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            assert!(!is_public(ip), "{a} counted as public");
        }
        for a in [
            "8.8.8.8",
            "52.94.236.248",
            "2606:4700:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(a.parse().unwrap()), "{a} counted as not public");
        }
    }

    #[test]
    fn one_private_answer_refuses_the_destination() {
        let public: SocketAddr = "93.184.216.34:443".parse().unwrap();
        let private: SocketAddr = "10.0.0.5:443".parse().unwrap();
        assert_eq!(vet("h", &[public]).unwrap(), vec![public]);
        assert!(matches!(
            vet("h", &[public, private]),
            Err(Refused::PrivateAddress { .. })
        ));
        assert!(matches!(vet("h", &[]), Err(Refused::Unresolved(_))));
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_time_dot_body() {
        // Key "Jefe" and the message of RFC 4231's test case 2, signed at t = 0.
        let sig = signature(b"Jefe", 0, b"what do ya want for nothing?");
        // HMAC-SHA256("Jefe", "0.what do ya want for nothing?"), computed independently with
        // Python's hmac module.
        assert_eq!(
            sig,
            "t=0,v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }
}
