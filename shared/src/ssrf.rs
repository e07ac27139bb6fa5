//! The SSRF policy: deliveries never reach loopback, private, link-local, CGNAT, multicast,
//! broadcast, documentation, benchmarking, cloud-metadata or other special addresses, however the
//! address is spelled (IPv4-mapped and other IPv6 forms that embed an IPv4 address are checked by
//! that address). The check applies to the address actually connected to, after DNS resolution.
//! `delivery.allowed_cidrs` is the explicit override.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an IPv4 address is refused, if it is.
fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => "unspecified or 'this network' address (0.0.0.0/8)",
        (10, ..) => "private address (10.0.0.0/8)",
        (100, 64..=127, _) => "carrier-grade NAT address (100.64.0.0/10)",
        (127, ..) => "loopback address (127.0.0.0/8)",
        (169, 254, _) => "link-local or cloud metadata address (169.254.0.0/16)",
        (172, 16..=31, _) => "private address (172.16.0.0/12)",
        (192, 0, 0) => "IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) => "documentation address (192.0.2.0/24)",
        (192, 88, 99) => "6to4 relay anycast (192.88.99.0/24)",
        (192, 168, _) => "private address (192.168.0.0/16)",
        (198, 18..=19, _) => "benchmarking address (198.18.0.0/15)",
        (198, 51, 100) => "documentation address (198.51.100.0/24)",
        (203, 0, 113) => "documentation address (203.0.113.0/24)",
        (224..=239, ..) => "multicast address (224.0.0.0/4)",
        (240..=255, ..) => "reserved or broadcast address (240.0.0.0/4)",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address carries, for the forms that route to IPv4.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, deprecated).
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0, 0, ..] => Some(tail),
        // NAT64 well-known prefix (64:ff9b::/96).
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(tail),
        // 6to4 (2002:aabb:ccdd::/48 carries aa.bb.cc.dd).
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// Why an IPv6 address is refused, if it is.
fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified address (::)");
    }
    if ip.is_loopback() {
        return Some("loopback address (::1)");
    }
    if let Some(v4) = embedded_v4(ip) {
        return v4_reason(v4).map(|_| "IPv6 form of a refused IPv4 address");
    }
    let first = ip.segments()[0];
    Some(match first {
        0xfc00..=0xfdff => "unique local address (fc00::/7)",
        0xfe80..=0xfebf => "link-local address (fe80::/10)",
        0xfec0..=0xfeff => "site-local address (fec0::/10)",
        0xff00..=0xffff => "multicast address (ff00::/8)",
        0x2001 if ip.segments()[1] == 0x0db8 => "documentation address (2001:db8::/32)",
        0x2001 if ip.segments()[1] == 0 => "Teredo address (2001::/32)",
        0x0100 if ip.segments()[1..4] == [0, 0, 0] => "discard-only address (100::/64)",
        _ => return None,
    })
}

/// Why a delivery to `ip` is refused, or `None` when it may go ahead (a public address, or one in
/// `allowed`).
pub fn refusal(ip: IpAddr, allowed: &[IpNet]) -> Option<&'static str> {
    if allowed.iter().any(|net| net.contains(&ip)) {
        return None;
    }
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        refusal(text.parse().expect("ip"), &[]).is_some()
    }

    #[test]
    fn special_ranges_are_refused_and_public_ones_allowed() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
            "fd00:ec2::254",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::",
        ] {
            assert!(!refused(ip), "{ip} must be allowed");
        }
    }

    #[test]
    fn the_allowlist_overrides() {
        let allowed: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        assert_eq!(refusal("127.0.0.1".parse().unwrap(), &allowed), None);
        assert_eq!(refusal("::1".parse().unwrap(), &allowed), None);
        assert!(refusal("10.0.0.1".parse().unwrap(), &allowed).is_some());
    }
}
