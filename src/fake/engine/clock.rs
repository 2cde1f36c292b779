//! Wall-clock texts (RFC 3339 for the Engine's JSON, IMF-fixdate for `Date`) and the fake's IDs.
//!
//! Plain `std`: the fake reads no time zone data and uses no layer of the crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds and nanoseconds since the Unix epoch.
pub(crate) fn now() -> (u64, u32) {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs(), d.subsec_nanos()),
        Err(_) => (0, 0),
    }
}

/// Days since 1970-01-01 to a (year, month, day) civil date (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2024-01-02T03:04:05.000000006Z`, the way the daemon writes times (nanoseconds trimmed of
/// trailing zeros, none at all for a whole second).
pub(crate) fn rfc3339(secs: u64, nanos: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, mo, d) = civil(days);
    let mut out = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// `Fri, 27 Nov 2026 03:57:30 GMT` (RFC 9110 §5.6.7).
pub(crate) fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, mo, d) = civil(days as i64);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(mo as usize).saturating_sub(1) % 12],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A 64-hex-digit ID derived from a counter: it looks random like the daemon's, but the same
/// seeding and the same requests always give the same IDs, and different counters never share
/// their first 16 digits (the first word is a bijection of the counter).
pub(crate) fn hex_id(n: u64) -> String {
    let mut state = n;
    let mut out = String::with_capacity(64);
    for _ in 0..4 {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.push_str(&format!("{z:016x}"));
    }
    out
}

/// The first 12 hex digits of an ID, without its `sha256:`: how the daemon shows IDs in
/// messages.
pub(crate) fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_the_daemon() {
        // Values seen on a real daemon's replies.
        assert_eq!(http_date(1_795_751_850), "Fri, 27 Nov 2026 03:57:30 GMT");
        assert_eq!(rfc3339(1_795_751_871, 0), "2026-11-27T03:57:51Z");
        assert_eq!(
            rfc3339(1_795_751_862, 265_311_145),
            "2026-11-27T03:57:42.265311145Z"
        );
        assert_eq!(rfc3339(0, 500_000_000), "1970-01-01T00:00:00.5Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        assert_eq!(hex_id(1), hex_id(1));
        assert_eq!(hex_id(7).len(), 64);
        let firsts: std::collections::BTreeSet<String> =
            (0..1000).map(|n| hex_id(n)[..12].to_string()).collect();
        assert_eq!(firsts.len(), 1000);
    }
}
