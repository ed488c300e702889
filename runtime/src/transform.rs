//! The value transforms of the plan (SPEC §3) that are pure text or number operations.
//! `hmac` lives with the [`Key`](crate::Key), `coarsen` with [`Timestamp`](crate::Timestamp);
//! the property writer picks which applies.

use std::borrow::Cow;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Appends the network of an IP address: IPv4 to /24 (`192.0.2.0`), IPv6 to /48
/// (`2001:db8:85a3::`).
///
/// Some IPv6 addresses carry an IPv4 address, and the /48 alone would keep it (6to4 puts the
/// whole IPv4 address in bits 16–47), so each such form is cut so that *both* the IPv6 address
/// stops at /48 *and* the IPv4 address inside it stops at /24:
///
/// - IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) addresses are the IPv4
///   address they carry, written as IPv4 (`a.b.c.0`);
/// - 6to4 (`2002::/16`, IPv4 in bits 16–47): `2002:aabb:cc00::`;
/// - Teredo (`2001:0::/32`, the server's IPv4 in bits 32–63, the client's, obfuscated, in the
///   last 32): the /48, which keeps two octets of the server and nothing of the client;
/// - NAT64 (`64:ff9b::/96` and the local-use `64:ff9b:1::/48`, IPv4 in the low bits): the /48,
///   which keeps none of it.
///
/// Returns `false`, writing nothing, when `text` is not an IP address: the caller drops it
/// rather than send something that may be a raw identifier.
pub(crate) fn truncate_ip(text: &str, out: &mut Vec<u8>) -> bool {
    let Ok(addr) = text.trim().parse::<IpAddr>() else {
        return false;
    };
    let v4 = |a: Ipv4Addr| {
        let [a, b, c, _] = a.octets();
        Ipv4Addr::new(a, b, c, 0)
    };
    // Writing to a Vec cannot fail.
    let _ = match addr {
        IpAddr::V4(a) => write!(out, "{}", v4(a)),
        IpAddr::V6(a) => match embedded_ipv4(a) {
            Some(carried) => write!(out, "{}", v4(carried)),
            None => write!(out, "{}", ipv6_network(a)),
        },
    };
    true
}

/// The IPv4 address an IPv4-mapped or IPv4-compatible IPv6 address stands for. `::` and `::1`
/// (and the rest of `::/104`) are IPv6 addresses of their own, not IPv4 ones.
fn embedded_ipv4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(mapped) = a.to_ipv4_mapped() {
        return Some(mapped);
    }
    let s = a.segments();
    (s[..6] == [0; 6] && s[6] >> 8 != 0).then(|| {
        let [_, _, _, _, _, _, hi, lo] = s;
        Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
    })
}

/// The /48 of `a`, with the last octet of a 6to4 address's IPv4 (bits 40–47) cleared too.
fn ipv6_network(a: Ipv6Addr) -> Ipv6Addr {
    let s = a.segments();
    let third = if s[0] == 0x2002 { s[2] & 0xff00 } else { s[2] };
    // Teredo (2001:0::/32) and NAT64 (64:ff9b::/96, 64:ff9b:1::/48) keep at most two octets
    // of an IPv4 address in their first 48 bits, so the plain /48 is enough for them.
    Ipv6Addr::new(s[0], s[1], third, 0, 0, 0, 0, 0)
}

/// The URL without what often carries a person's data: userinfo (`user:pass@`), `;`
/// parameters (`;jsessionid=…`), the query string (e-mail addresses, tokens, search terms) and
/// the fragment. What is left is scheme, host, port and path.
pub(crate) fn strip_query(url: &str) -> Cow<'_, str> {
    // The authority follows `//` (after a scheme, or at the start of a network-path
    // reference) and runs to the first `/`, `?` or `#`; userinfo is everything in it up to
    // the last `@`.
    let authority_start = match url.find("//") {
        Some(i)
            if url[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.:".contains(&b))
                && (i == 0 || url[..i].ends_with(':')) =>
        {
            Some(i + 2)
        }
        _ => None,
    };
    let (head, rest, userinfo_end) = match authority_start {
        Some(start) => {
            let end = url[start..]
                .find(['/', '?', '#'])
                .map_or(url.len(), |i| start + i);
            let userinfo_end = url[start..end].rfind('@').map(|i| start + i + 1);
            (
                &url[..start],
                &url[userinfo_end.unwrap_or(start)..],
                userinfo_end,
            )
        }
        None => ("", url, None),
    };
    // `;` in the authority (past the userinfo) would be a malformed host; cutting there too is
    // the cautious reading.
    let kept = match rest.find([';', '?', '#']) {
        Some(i) => &rest[..i],
        None => rest,
    };
    match userinfo_end {
        None => Cow::Borrowed(&url[..head.len() + kept.len()]),
        Some(_) => Cow::Owned(format!("{head}{kept}")),
    }
}

/// Appends the bucket label of `value` for ascending `bounds`: `"<18"`, `"18-24"`, …, `"65+"`.
/// Ranges are half-open (`[18, 25)` is `"18-24"` when both bounds are integers, `"2.5 to <5"`
/// otherwise). Returns `false` for NaN or empty bounds.
pub(crate) fn bucket(value: f64, bounds: &[f64], out: &mut Vec<u8>) -> bool {
    let (Some(&first), Some(&last)) = (bounds.first(), bounds.last()) else {
        return false;
    };
    if value.is_nan() {
        return false;
    }
    if value < first {
        out.push(b'<');
        write_bound(first, out);
    } else if value >= last {
        write_bound(last, out);
        out.push(b'+');
    } else {
        // first <= value < last, so some window holds it.
        for w in bounds.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            if lo <= value && value < hi {
                match (as_integer(lo), as_integer(hi)) {
                    (Some(lo), Some(hi)) if hi - 1 == lo => write_int(lo, out),
                    (Some(lo), Some(hi)) => {
                        write_int(lo, out);
                        out.push(b'-');
                        write_int(hi - 1, out);
                    }
                    _ => {
                        write_bound(lo, out);
                        out.extend_from_slice(b" to <");
                        write_bound(hi, out);
                    }
                }
                break;
            }
        }
    }
    true
}

fn as_integer(x: f64) -> Option<i64> {
    // Exact for |x| < 2^53; the cast is checked by the round trip.
    (x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0).then_some(x as i64)
}

fn write_int(i: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
}

fn write_bound(x: f64, out: &mut Vec<u8>) {
    match as_integer(x) {
        Some(i) => write_int(i, out),
        None => out.extend_from_slice(zmij::Buffer::new().format(x).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<String> {
        let mut out = Vec::new();
        truncate_ip(text, &mut out).then(|| String::from_utf8_lossy(&out).into_owned())
    }

    fn label(v: f64, bounds: &[f64]) -> Option<String> {
        let mut out = Vec::new();
        bucket(v, bounds, &mut out).then(|| String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn truncate_ip_keeps_the_network_only() {
        assert_eq!(ip("192.0.2.123").as_deref(), Some("192.0.2.0"));
        assert_eq!(ip(" 10.1.2.3 ").as_deref(), Some("10.1.2.0"));
        assert_eq!(
            ip("2001:db8:85a3:8d3:1319:8a2e:370:7348").as_deref(),
            Some("2001:db8:85a3::")
        );
        assert_eq!(ip("::1").as_deref(), Some("::"));
        assert_eq!(ip("::ffff:198.51.100.7").as_deref(), Some("198.51.100.0"));
    }

    #[test]
    fn truncate_ip_rejects_what_is_not_an_address() {
        for bad in [
            "",
            "alice@example.com",
            "192.0.2",
            "192.0.2.300",
            "fe80::1%eth0",
            "host:80",
        ] {
            let mut out = Vec::new();
            assert!(!truncate_ip(bad, &mut out), "{bad}");
            assert!(out.is_empty(), "nothing written for {bad}");
        }
    }

    #[test]
    fn strip_query_drops_query_and_fragment() {
        assert_eq!(
            strip_query("https://shop.example/p?email=a@b.c#top"),
            "https://shop.example/p"
        );
        assert_eq!(
            strip_query("https://shop.example/p#x?y"),
            "https://shop.example/p"
        );
        assert_eq!(
            strip_query("https://shop.example/p"),
            "https://shop.example/p"
        );
        assert_eq!(strip_query("/search?q=insulin"), "/search");
    }

    #[test]
    fn strip_query_drops_userinfo_and_params() {
        for (url, kept) in [
            (
                "https://alice:s3cret@shop.example/p?q=1",
                "https://shop.example/p",
            ),
            (
                "https://alice@shop.example:8443/",
                "https://shop.example:8443/",
            ),
            ("https://a%40b.c:pw@shop.example", "https://shop.example"),
            ("//alice@shop.example/p", "//shop.example/p"),
            (
                "https://shop.example/cart;jsessionid=ABC123?x=1",
                "https://shop.example/cart",
            ),
            ("https://shop.example/a;v=1/b", "https://shop.example/a"),
            ("/account;token=xyz", "/account"),
            // An `@` after the authority is part of the path, not userinfo.
            (
                "https://shop.example/u/@alice",
                "https://shop.example/u/@alice",
            ),
        ] {
            let stripped = strip_query(url);
            assert_eq!(stripped, kept, "{url}");
            for secret in ["alice:", "s3cret", "pw@", "jsessionid", "ABC123", "token"] {
                assert!(!stripped.contains(secret), "{url} kept {secret}");
            }
        }
    }

    #[test]
    fn truncate_ip_cuts_an_ipv4_address_carried_in_ipv6() {
        // 203.0.113.9 is cb00:7109 in hex; no output may keep its last octet (09) in place.
        for (addr, network) in [
            ("::ffff:203.0.113.9", "203.0.113.0"),
            ("::ffff:cb00:7109", "203.0.113.0"),
            ("::203.0.113.9", "203.0.113.0"),
            // 6to4: the /48 alone would be 2002:cb00:7109::, the whole IPv4 address.
            ("2002:cb00:7109::1", "2002:cb00:7100::"),
            ("2002:cb00:7109:1234:5678:9abc:def0:1", "2002:cb00:7100::"),
            // Teredo: server 65.54.227.120 (4136:e378), client 203.0.113.9 obfuscated
            // (34ff:8ef6) in the last 32 bits.
            ("2001:0:4136:e378:8000:63bf:34ff:8ef6", "2001:0:4136::"),
            // NAT64, well-known and local-use prefixes.
            ("64:ff9b::203.0.113.9", "64:ff9b::"),
            ("64:ff9b::cb00:7109", "64:ff9b::"),
            ("64:ff9b:1:cb00:71:900::", "64:ff9b:1::"),
        ] {
            let got = ip(addr);
            assert_eq!(got.as_deref(), Some(network), "{addr}");
            let got = got.unwrap_or_default();
            for leak in ["7109", "113.9", "8ef6", "e378"] {
                assert!(!got.contains(leak), "{addr} -> {got} keeps {leak}");
            }
        }
        // The rest of ::/104 stays IPv6 (:: and ::1 are not IPv4 addresses).
        assert_eq!(ip("::").as_deref(), Some("::"));
        assert_eq!(ip("::2").as_deref(), Some("::"));
    }

    #[test]
    fn bucket_labels_follow_the_bounds() {
        let ages = [18.0, 25.0, 35.0, 50.0, 65.0];
        let cases = [
            (0.0, "<18"),
            (17.9, "<18"),
            (18.0, "18-24"),
            (24.0, "18-24"),
            (25.0, "25-34"),
            (49.5, "35-49"),
            (64.0, "50-64"),
            (65.0, "65+"),
            (130.0, "65+"),
            (-3.0, "<18"),
        ];
        for (v, want) in cases {
            assert_eq!(label(v, &ages).as_deref(), Some(want), "{v}");
        }
        assert_eq!(label(1.0, &[0.0, 1.0, 2.0]).as_deref(), Some("1"));
        assert_eq!(label(3.0, &[2.5, 5.0]).as_deref(), Some("2.5 to <5"));
        assert_eq!(label(0.1, &[0.5]).as_deref(), Some("<0.5"));
        assert_eq!(label(f64::NAN, &ages), None);
        assert_eq!(label(1.0, &[]), None);
    }
}
