//! Where deliveries may go. A webhook URL is chosen by an API caller and fetched by the
//! server, so without a guard any key holder could make the server POST into its own
//! network (cloud metadata, admin ports). Private, loopback, link-local and other
//! non-public targets are refused unless the operator allows them
//! (`PLUGBOARD_WEBHOOKS_ALLOW_PRIVATE=true`, for receivers on the same network). The check
//! runs when a URL is saved (literal addresses and `localhost`) and again on every
//! delivery, on the addresses the name resolves to at that moment, inside the HTTP
//! client's resolver, so a name cannot pass the check and then resolve elsewhere.

use crate::{ServiceError, ServiceResult};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::{Host, Url};

/// The longest URL accepted.
const MAX_URL_LEN: usize = 2048;

/// Parses and checks a webhook URL: absolute http(s), a host, no credentials, and (unless
/// `allow_private`) not naming a non-public address.
pub fn parse_target(raw: &str, allow_private: bool) -> ServiceResult<Url> {
    let text = raw.trim();
    let invalid = |m: &str| ServiceError::BadRequest {
        code: "invalid_webhook_url",
        message: m.to_owned(),
        param: Some("url"),
    };
    if text.is_empty() {
        return Err(invalid("url is required"));
    }
    if text.len() > MAX_URL_LEN {
        return Err(invalid("url must be at most 2048 characters"));
    }
    let url = Url::parse(text).map_err(|_| invalid("url must be a valid absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("url must use http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "url must not carry credentials; send them in customHeaders",
        ));
    }
    let private = match url.host() {
        None => return Err(invalid("url must name a host")),
        Some(Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    };
    if private && !allow_private {
        return Err(invalid(
            "url points to a private or loopback address; the operator can allow such targets with PLUGBOARD_WEBHOOKS_ALLOW_PRIVATE=true",
        ));
    }
    Ok(url)
}

/// Whether deliveries may go to `ip` without the operator's leave: a globally routable
/// unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (b == 18 || b == 19))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local, fc00::/7.
        || (s[0] & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (s[0] & 0xffc0) == 0xfe80
        // Documentation, 2001:db8::/32.
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        // IPv4-compatible and other ::/96 forms.
        || s[..6] == [0, 0, 0, 0, 0, 0])
}

/// The delivery client's resolver: resolves with the system resolver and, unless private
/// targets are allowed, keeps only public addresses (none left is an error the delivery
/// log shows).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!(
                    "{host} resolves only to private or loopback addresses, which are not allowed as webhook targets"
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// Checks a target at delivery time when it names an address literally (those never
/// reach the resolver).
pub fn check_literal(url: &Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(format!(
            "{ip} is a private or loopback address, which is not allowed as a webhook target"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_metadata_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_trimmed_checked_and_private_targets_refused_unless_allowed() {
        assert_eq!(
            parse_target("  https://hooks.example.com/x?y=1 ", false)
                .unwrap()
                .as_str(),
            "https://hooks.example.com/x?y=1"
        );
        for bad in [
            "",
            "hooks.example.com/x",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "http://127.0.0.1:9000/x",
            "http://localhost/x",
            "http://api.localhost./x",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data",
            "http://0x7f000001/",
        ] {
            assert!(parse_target(bad, false).is_err(), "{bad}");
        }
        assert!(parse_target("http://127.0.0.1:9000/x", true).is_ok());
        assert!(check_literal(&Url::parse("http://10.0.0.1/").unwrap(), false).is_err());
        assert!(check_literal(&Url::parse("http://10.0.0.1/").unwrap(), true).is_ok());
    }
}
