//! Unix time to civil (proleptic Gregorian, UTC) date and time, without a
//! date crate: Howard Hinnant's `civil_from_days`.

use std::fmt::Write;

/// A UTC date and time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// The civil date of a day number (days since 1970-01-01).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Civil {
    pub fn from_unix(seconds: u64) -> Civil {
        // u64 seconds / 86400 fits an i64 with room to spare.
        let days = (seconds / 86_400) as i64;
        let rest = (seconds % 86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: rest / 3600,
            minute: rest / 60 % 60,
            second: rest % 60,
        }
    }
}

/// The last second RFC 3339 can write: 9999-12-31T23:59:59Z.
const RFC3339_MAX: u64 = 253_402_300_799;

/// Whether the time has an RFC 3339 form (nanoseconds below 10⁹, a year up
/// to 9999).
pub fn fits_rfc3339(seconds: u64, nanos: u32) -> bool {
    nanos < 1_000_000_000 && seconds <= RFC3339_MAX
}

/// Appends `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (RFC 3339, UTC, nanoseconds);
/// writes nothing and returns false when [`fits_rfc3339`] does not hold.
pub fn write_rfc3339(out: &mut String, seconds: u64, nanos: u32) -> bool {
    if !fits_rfc3339(seconds, nanos) {
        return false;
    }
    let c = Civil::from_unix(seconds);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, nanos
    );
    true
}

/// `YYYY-MM-DD HH:MM:SS.uuuuuu`, the form dnstap-ldns prints (microseconds,
/// truncated).
pub fn write_ldns(out: &mut String, seconds: u64, nanos: u32) {
    let c = Civil::from_unix(seconds);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        nanos / 1000
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc3339(seconds: u64, nanos: u32) -> Option<String> {
        let mut out = String::new();
        write_rfc3339(&mut out, seconds, nanos).then_some(out)
    }

    #[test]
    fn known_instants() {
        assert_eq!(
            rfc3339(0, 0).as_deref(),
            Some("1970-01-01T00:00:00.000000000Z")
        );
        assert_eq!(
            rfc3339(1_700_000_000, 5).as_deref(),
            Some("2023-11-14T22:13:20.000000005Z")
        );
        // Leap days, century rules.
        assert_eq!(
            rfc3339(951_782_400, 0).as_deref(),
            Some("2000-02-29T00:00:00.000000000Z")
        );
        assert_eq!(
            rfc3339(4_107_456_000, 0).as_deref(),
            Some("2100-02-28T00:00:00.000000000Z")
        );
        assert_eq!(
            rfc3339(4_107_542_400, 0).as_deref(),
            Some("2100-03-01T00:00:00.000000000Z")
        );
        assert_eq!(
            rfc3339(253_402_300_799, 999_999_999).as_deref(),
            Some("9999-12-31T23:59:59.999999999Z")
        );
        assert_eq!(rfc3339(253_402_300_800, 0), None, "year 10000");
        assert_eq!(rfc3339(0, 1_000_000_000), None);
        // Huge values do not panic.
        let _ = Civil::from_unix(u64::MAX);
    }

    #[test]
    fn civil_matches_a_day_by_day_count() {
        // Walk 1970..2400 day by day with a naive calendar.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for days in 0..157_000i64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let month_len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > month_len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn ldns_form() {
        let mut out = String::new();
        write_ldns(&mut out, 1_700_000_000, 123_456_789);
        assert_eq!(out, "2023-11-14 22:13:20.123456");
    }
}
