//! Where webhooks may be sent. A target is an `http` or `https` URL without credentials or
//! fragment; unless the operator sets `webhooks_allow_private_targets`, it must not reach a
//! loopback, private, link-local, unspecified, shared (CGNAT), multicast, documentation or
//! reserved address (IPv4-mapped and NAT64/6to4 IPv6 are judged by the IPv4 inside).
//!
//! The URL is checked when a subscription is made (form, address literals, `localhost`) and
//! again at every attempt, after DNS resolution: [`GuardedResolver`] hands the HTTP client only
//! the addresses it allowed, so a name that later resolves inward (DNS rebinding) is still
//! refused. Redirects are never followed (see the deliverer).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

pub const MAX_URL_LEN: usize = 2048;

/// Parses and checks a subscription's URL.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("url: must be at most {MAX_URL_LEN} characters"));
    }
    let url = Url::parse(raw.trim()).map_err(|e| format!("url: not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("url: must be an http or https URL".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url: must not hold credentials".to_owned());
    }
    if url.fragment().is_some() {
        return Err("url: must not have a fragment".to_owned());
    }
    check_target(&url, allow_private)?;
    Ok(url)
}

/// Checks what can be checked about a target without resolving it: an address literal, or a
/// name that always means this machine.
pub fn check_target(url: &Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    if url.host().is_none() {
        return Err("url: must name a host".to_owned());
    }
    match inward_host(url) {
        Some(what) => Err(format!(
            "url: {what} is a private, loopback or link-local address; webhooks go to public addresses"
        )),
        None => Ok(()),
    }
}

/// The URL's host when it is known to be inward without resolving it (an address literal
/// that is not public, or a name that always means this machine); shared with the other
/// outbound clients (OAuth providers).
pub fn inward_host(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Ipv4(ip) if !is_public(IpAddr::V4(ip)) => Some(ip.to_string()),
        Host::Ipv6(ip) if !is_public(IpAddr::V6(ip)) => Some(ip.to_string()),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            (name == "localhost" || name.ends_with(".localhost")).then_some(name)
        }
        _ => None,
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", unspecified
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // protocol assignments, documentation
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    if ip.is_unspecified() || ip.is_loopback() {
        return false;
    }
    // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible form.
    if let Some(v4) = ip.to_ipv4() {
        return is_public_v4(v4);
    }
    let embedded = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match segments {
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 they embed.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => is_public_v4(embedded(high, low)),
        [0x2002, high, low, ..] => is_public_v4(embedded(high, low)),
        [first, second, ..] => {
            !((first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (first & 0xff00) == 0xff00 // multicast
                || (first == 0x2001 && second == 0x0db8)) // documentation
        }
    }
}

/// Resolves target names and keeps only the addresses the policy allows.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| allow_private || is_public(addr.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "{host} resolves only to private, loopback or link-local addresses"
                )
                .into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_inward_addresses() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "172.32.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn checks_the_form_and_literal_hosts() {
        assert!(check_url("https://hooks.example.com/x?y=1", false).is_ok());
        for bad in [
            "not a url",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://localhost/",
            "http://api.localhost./",
            "http://2130706433/",
            "http://10.0.0.1/",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:8080/", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/", true).is_err());
    }

    #[tokio::test]
    async fn the_resolver_drops_what_the_policy_refuses() {
        let guarded = GuardedResolver {
            allow_private: false,
        };
        let name: Name = "localhost".parse().unwrap();
        assert!(guarded.resolve(name).await.is_err());
        let open = GuardedResolver {
            allow_private: true,
        };
        let name: Name = "localhost".parse().unwrap();
        let addrs: Vec<_> = open.resolve(name).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
