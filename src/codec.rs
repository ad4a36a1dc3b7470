//! The ledger's fixed spellings of hashes, days and moments, read and written strictly
//! and without allocation where it counts (a bulk append formats millions): 64
//! lowercase hex digits, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`. A ground-floor module:
//! it imports nothing of the crate.

use chrono::{DateTime, NaiveDate, Utc};

/// A BLAKE3 hash (SPEC §3).
pub type Hash = [u8; 32];
pub const ZERO_HASH: Hash = [0; 32];

/// The 64 lowercase hex digits of a hash, without allocating.
pub fn hex_bytes(hash: &Hash) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, b) in hash.iter().enumerate() {
        out[2 * i] = b"0123456789abcdef"[usize::from(b >> 4)];
        out[2 * i + 1] = b"0123456789abcdef"[usize::from(b & 15)];
    }
    out
}

/// Appends `n` in decimal digits (what `n.to_string()` says, without allocating).
pub fn push_decimal(n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

pub fn hex(hash: &Hash) -> String {
    hex_bytes(hash).iter().map(|&b| char::from(b)).collect()
}

/// Parses 64 lowercase hex digits.
pub fn parse_hex(s: &str) -> Option<Hash> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (nib(bytes[2 * i])? << 4) | nib(bytes[2 * i + 1])?;
    }
    Some(out)
}

/// `YYYY-MM-DD`, strictly (four-digit year, two-digit month and day).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    // Digits only, so the arithmetic is exact; chrono checks the calendar.
    let num = |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, strictly: UTC, whole seconds.
pub fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let date = parse_date(&s[..10])?;
    let time = &b[11..19];
    if !time.iter().enumerate().all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit()) {
        return None;
    }
    let num = |i: usize| u32::from(time[i] - b'0') * 10 + u32::from(time[i + 1] - b'0');
    let time = chrono::NaiveTime::from_hms_opt(num(0), num(3), num(6))?;
    Some(date.and_time(time).and_utc())
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_stamp(t: &DateTime<Utc>) -> String {
    match stamp_bytes(t) {
        Some(b) => String::from_utf8(b.to_vec()).expect("ASCII digits"),
        None => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

/// [`format_stamp`], kept inline (no allocation): a bulk append makes one per event on
/// one thread and drops it on another.
pub fn format_stamp_inline(t: &DateTime<Utc>) -> compact_str::CompactString {
    match stamp_bytes(t) {
        Some(b) => std::str::from_utf8(&b).expect("ASCII digits").into(),
        None => format_stamp(t).into(),
    }
}

/// A stamp's bytes, for four-digit years.
fn stamp_bytes(t: &DateTime<Utc>) -> Option<[u8; 20]> {
    use chrono::Timelike;
    let mut b = [0u8; 20];
    b[..10].copy_from_slice(&date_bytes(t.date_naive())?);
    let time = t.time();
    for (at, sep, n) in [(10, b'T', time.hour()), (13, b':', time.minute()), (16, b':', time.second())] {
        b[at] = sep;
        b[at + 1] = b'0' + (n / 10) as u8;
        b[at + 2] = b'0' + (n % 10) as u8;
    }
    b[19] = b'Z';
    Some(b)
}

/// `YYYY-MM-DD` (without strftime, which costs a few percent of a bulk append).
pub fn format_date(d: NaiveDate) -> String {
    match date_bytes(d) {
        Some(b) => String::from_utf8(b.to_vec()).expect("ASCII digits"),
        None => d.format("%Y-%m-%d").to_string(),
    }
}

/// A date's bytes, for four-digit years.
fn date_bytes(d: NaiveDate) -> Option<[u8; 10]> {
    use chrono::Datelike;
    let y = d.year();
    if !(0..=9999).contains(&y) {
        return None;
    }
    let mut b = [0u8; 10];
    let digits = |out: &mut [u8], mut n: u32| {
        for o in out.iter_mut().rev() {
            *o = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    digits(&mut b[0..4], y as u32);
    b[4] = b'-';
    digits(&mut b[5..7], d.month());
    b[7] = b'-';
    digits(&mut b[8..10], d.day());
    Some(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_digits_are_to_string() {
        for n in [0, 1, 9, 10, 99, 100, 370_416, u64::from(u32::MAX), u64::MAX - 1, u64::MAX] {
            let mut out = b"x".to_vec();
            super::push_decimal(n, &mut out);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    /// Both stamp forms are chrono's `%Y-%m-%dT%H:%M:%SZ`, four-digit years or not.
    #[test]
    fn stamps_are_strftime() {
        use chrono::TimeZone;
        for (y, mo, d, h, mi, s) in [
            (2017, 1, 1, 0, 0, 0),
            (2024, 12, 31, 23, 59, 59),
            (1, 2, 3, 4, 5, 6),
            (0, 1, 1, 0, 0, 0),
            (-1, 12, 31, 23, 59, 59),
            (9999, 9, 9, 9, 9, 9),
            (10000, 1, 1, 0, 0, 0),
            (12345, 6, 7, 8, 9, 10),
        ] {
            let t = chrono::Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
            let want = t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            assert_eq!(super::format_stamp(&t), want);
            assert_eq!(super::format_stamp_inline(&t).as_str(), want);
            assert_eq!(super::format_date(t.date_naive()), t.format("%Y-%m-%d").to_string());
        }
    }
}
