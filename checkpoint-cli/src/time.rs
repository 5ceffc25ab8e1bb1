//! Wall-clock times as UTC text, without a calendar dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// `time` as RFC 3339 in UTC with nanoseconds: `2026-11-24T09:30:05.123456789Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let (date, secs, nanos) = parts(time);
    format!("{date}T{secs}.{nanos:09}Z")
}

/// `time` in UTC to the second, for tables: `2026-11-24 09:30:05`.
pub fn short(time: SystemTime) -> String {
    let (date, secs, _) = parts(time);
    format!("{date} {secs}")
}

fn parts(time: SystemTime) -> (String, String, u32) {
    // Checkpoint times are never before the epoch: the format stores them
    // as seconds since it.
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
        since.subsec_nanos(),
    )
}

/// Year, month and day of the day `days` after 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let t = UNIX_EPOCH + Duration::new(951_782_400 + 86_399, 5);
        assert_eq!(rfc3339(t), "2000-02-29T23:59:59.000000005Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_511_405);
        assert_eq!(short(t), "2026-11-24 09:10:05");
    }
}
