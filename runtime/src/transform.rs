//! The value transforms of the plan (SPEC §3) that are pure text or number operations.
//! `hmac` lives with the [`Key`](crate::Key), `coarsen` with [`Timestamp`](crate::Timestamp);
//! the property writer picks which applies.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Appends the network of an IP address: IPv4 to /24 (`192.0.2.0`), IPv6 to /48
/// (`2001:db8:85a3::`). IPv4-mapped IPv6 addresses are treated as the IPv4 address they carry.
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
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(mapped) => write!(out, "{}", v4(mapped)),
            None => {
                let s = a.segments();
                write!(out, "{}", Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
            }
        },
    };
    true
}

/// The URL without its query string and fragment, which often carry e-mail addresses, tokens or
/// search terms.
pub(crate) fn strip_query(url: &str) -> &str {
    match url.find(['?', '#']) {
        Some(i) => &url[..i],
        None => url,
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
