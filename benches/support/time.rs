//! Times as AWS writes them, without a date library. Included with `#[path]` by the benchmarks.
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

/// `2026-11-22T10:15:30Z` (EventBridge's `time`) or with milliseconds (Connect's timestamps).
pub(crate) fn iso8601(t: SystemTime, millis: bool) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rest / 3600, rest / 60 % 60, rest % 60);
    if millis {
        format!(
            "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{:03}Z",
            since.subsec_millis()
        )
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    }
}

/// [`iso8601`] of a time in whole seconds since the epoch.
pub(crate) fn iso8601_secs(epoch_seconds: u64, millis: bool) -> String {
    iso8601(SystemTime::UNIX_EPOCH + Duration::from_secs(epoch_seconds), millis)
}
