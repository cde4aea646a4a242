//! Host names: validation of `--intercept` values and `--resolve` overrides.
//!
//! Pure: parsing and lookup only, no DNS.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// A lower-cased DNS name that may be intercepted (never an IP address).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

impl HostName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for HostName {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return Err("a host name cannot be empty".into());
        }
        if name.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!(
                "`{raw}` is an IP address; only DNS names can be intercepted (the CA is limited to names)"
            ));
        }
        if name.len() > 253 {
            return Err(format!("`{raw}` is longer than a DNS name may be"));
        }
        let labels_ok = name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !labels_ok {
            return Err(format!(
                "`{raw}` is not a valid DNS name (letters, digits, '-' and '.' only)"
            ));
        }
        Ok(HostName(name))
    }
}

/// Whether `host` is `domain` itself or one of its subdomains.
pub fn is_within(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// The smallest set of DNS subtrees that covers every host: a host already
/// covered by another (api.trakt.tv under trakt.tv) is dropped.
pub fn covering_domains(hosts: &[HostName]) -> Vec<HostName> {
    let mut sorted: Vec<&HostName> = hosts.iter().collect();
    sorted.sort_by_key(|h| h.as_str().len());
    let mut out: Vec<HostName> = Vec::new();
    for host in sorted {
        if !out.iter().any(|d| is_within(host.as_str(), d.as_str())) {
            out.push(host.clone());
        }
    }
    out.sort();
    out
}

/// One `--resolve HOST:PORT=ADDR` override, as curl spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveRule {
    pub host: String,
    pub port: u16,
    pub addr: SocketAddr,
}

impl FromStr for ResolveRule {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let usage =
            || format!("`{raw}` is not HOST:PORT=ADDR:PORT (e.g. api.trakt.tv:443=127.0.0.1:8443)");
        let (left, right) = raw.split_once('=').ok_or_else(usage)?;
        let (host, port) = left.rsplit_once(':').ok_or_else(usage)?;
        let port: u16 = port.parse().map_err(|_| usage())?;
        if host.is_empty() {
            return Err(usage());
        }
        let addr = match right.parse::<SocketAddr>() {
            Ok(addr) => addr,
            // curl allows a bare address: keep the port of the left side.
            Err(_) => {
                let ip: std::net::IpAddr = right
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| usage())?;
                SocketAddr::new(ip, port)
            }
        };
        Ok(ResolveRule {
            host: host.to_ascii_lowercase(),
            port,
            addr,
        })
    }
}

/// The `--resolve` table: (host, port) to the address to dial instead.
#[derive(Debug, Clone, Default)]
pub struct ResolveTable(HashMap<(String, u16), SocketAddr>);

impl ResolveTable {
    pub fn new(rules: &[ResolveRule]) -> Self {
        ResolveTable(
            rules
                .iter()
                .map(|r| ((r.host.clone(), r.port), r.addr))
                .collect(),
        )
    }

    pub fn lookup(&self, host: &str, port: u16) -> Option<SocketAddr> {
        self.0.get(&(host.to_ascii_lowercase(), port)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_validated_and_lowercased() {
        assert_eq!(
            "API.Trakt.TV.".parse::<HostName>().unwrap().as_str(),
            "api.trakt.tv"
        );
        assert!("127.0.0.1".parse::<HostName>().is_err());
        assert!("bad host".parse::<HostName>().is_err());
        assert!("-x.com".parse::<HostName>().is_err());
        assert!("".parse::<HostName>().is_err());
    }

    #[test]
    fn within_checks_label_boundaries() {
        assert!(is_within("api.trakt.tv", "trakt.tv"));
        assert!(is_within("trakt.tv", "trakt.tv"));
        assert!(!is_within("notrakt.tv", "trakt.tv"));
        assert!(!is_within("trakt.tv", "api.trakt.tv"));
    }

    #[test]
    fn covering_domains_drop_subdomains() {
        let hosts: Vec<HostName> = ["api.trakt.tv", "trakt.tv", "api.strem.io", "www.strem.io"]
            .iter()
            .map(|h| h.parse().unwrap())
            .collect();
        let names: Vec<String> = covering_domains(&hosts)
            .iter()
            .map(|h| h.to_string())
            .collect();
        assert_eq!(names, vec!["api.strem.io", "trakt.tv", "www.strem.io"]);
    }

    #[test]
    fn resolve_rules_parse_like_curl() {
        let rule: ResolveRule = "api.trakt.tv:443=127.0.0.1:9443".parse().unwrap();
        assert_eq!(rule.port, 443);
        assert_eq!(rule.addr, "127.0.0.1:9443".parse().unwrap());
        let bare: ResolveRule = "x.io:443=127.0.0.2".parse().unwrap();
        assert_eq!(bare.addr, "127.0.0.2:443".parse().unwrap());
        let v6: ResolveRule = "x.io:443=[::1]:8443".parse().unwrap();
        assert_eq!(v6.addr, "[::1]:8443".parse().unwrap());
        assert!("x.io=127.0.0.1".parse::<ResolveRule>().is_err());
        assert!("x.io:99999=127.0.0.1".parse::<ResolveRule>().is_err());
        let table = ResolveTable::new(&[rule]);
        assert!(table.lookup("API.TRAKT.TV", 443).is_some());
        assert!(table.lookup("api.trakt.tv", 80).is_none());
    }
}
