//! QA quotas (issue 18): the arithmetic of `perAgent` and `perReviewer`, pure (no I/O, the time is
//! given).
//!
//! A period is a local day (from midnight), week (from Monday 00:00) or month (from the 1st 00:00) in
//! `QA_TIME_ZONE`, as real instants: a day when the clocks change is 23 or 25 hours long, and so is
//! the week or month around it. A contact belongs to the period of its event's `time`.
//!
//! **Spread**: of an agent's `N` monitors in a period, the k-th (k = 1 … N) may start only for a
//! contact whose event `time` is at or after the period's start plus (k − 1)/N of the period's real
//! length. N = 3 a week opens slots on Monday 00:00, Wednesday 08:00 and Friday 16:00; N = 1 a day
//! opens one at midnight. A slot stays open until it is filled or the period ends.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};

use crate::outcome::SkipReason;

/// Most monitors of a quota per period (`count`).
pub const MAX_COUNT: u32 = 1000;

/// The length of a quota's period. Spelled `day`, `week`, `month` in `QA_RULES` and by the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::Display)]
#[strum(serialize_all = "lowercase")]
pub enum Period {
    /// From local midnight to the next.
    Day,
    /// From Monday 00:00 local to the next Monday's.
    Week,
    /// From the 1st 00:00 local to the next month's.
    Month,
}

/// A rule's `perAgent` or `perReviewer`: at most `count` monitors per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// 1..=[`MAX_COUNT`].
    pub count: u32,
    /// The period the count is per.
    pub per: Period,
}

/// The period containing `time` in `zone`: [start, end) as instants, and `label` = start in RFC 3339
/// with the zone's offset (e.g. "2026-11-30T00:00:00+00:00"): the counter key's sort key and the
/// report's `period_start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// The period's first instant (local midnight of its first day).
    pub start: Timestamp,
    /// The next period's start: not in this period.
    pub end: Timestamp,
    /// `start` as local time with its offset, `YYYY-MM-DDTHH:MM:SS±HH:MM`.
    pub label: String,
}

impl Bounds {
    /// The period's real length, in nanoseconds (a day is 23 or 25 hours when the clocks change).
    pub fn length_nanos(&self) -> i128 {
        self.end.as_nanosecond() - self.start.as_nanosecond()
    }
}

/// The period of kind `per` containing `time` in `zone`.
///
/// Total, whatever `time` is: where a boundary falls outside the range of instants that can be
/// represented (within a month of the years -9999 and 9999), it is clipped to that range.
pub fn bounds(time: Timestamp, per: Period, zone: &TimeZone) -> Bounds {
    let date = time.to_zoned(zone.clone()).date();
    let first = match per {
        Period::Day => Some(date),
        Period::Week => date
            .checked_sub(Span::new().days(i64::from(date.weekday().to_monday_zero_offset())))
            .ok(),
        Period::Month => Some(date.first_of_month()),
    };
    let next = first.and_then(|first| {
        let length = match per {
            Period::Day => Span::new().days(1),
            Period::Week => Span::new().days(7),
            Period::Month => Span::new().months(1),
        };
        first.checked_add(length).ok()
    });
    let start = first.and_then(|d| midnight(d, zone));
    let end = next
        .and_then(|d| midnight(d, zone))
        .map_or(Timestamp::MAX, |z| z.timestamp());
    let (start, label) = match start {
        Some(start) => (start.timestamp(), rfc3339(&start)),
        None => {
            let start = Timestamp::MIN;
            (start, rfc3339(&start.to_zoned(zone.clone())))
        }
    };
    Bounds { start, end, label }
}

/// The first instant of `date` in `zone`: midnight, or the end of a gap that swallows midnight
/// (where the clocks change at 00:00).
fn midnight(date: Date, zone: &TimeZone) -> Option<Zoned> {
    date.to_zoned(zone.clone()).ok()
}

fn rfc3339(zoned: &Zoned) -> String {
    zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Slots open at `time`: the k-th (1-based) opens at start + (k-1)/N of the period's real length;
/// result in 1..=N (0 for N = 0). A `time` outside the period counts as its nearest end.
pub fn open_slots(time: Timestamp, bounds: &Bounds, count: u32) -> u32 {
    if count == 0 {
        return 0;
    }
    let length = bounds.length_nanos();
    if length <= 0 {
        return count;
    }
    let elapsed = (time.as_nanosecond() - bounds.start.as_nanosecond()).clamp(0, length);
    // Slot k is open when elapsed >= (k - 1) * length / count, that is (k - 1) <= elapsed * count / length.
    let opened = elapsed * i128::from(count) / length + 1;
    u32::try_from(opened.min(i128::from(count))).unwrap_or(count)
}

/// When the `k`-th (1-based) of `count` slots opens: the first instant at which [`open_slots`] counts
/// it. `None` for a `k` outside 1..=count.
pub fn slot_opens(bounds: &Bounds, count: u32, k: u32) -> Option<Timestamp> {
    if k == 0 || k > count {
        return None;
    }
    let length = bounds.length_nanos().max(0);
    let numerator = i128::from(k - 1) * length;
    let count = i128::from(count);
    // The ceiling: the first whole nanosecond at or after (k - 1) / count of the length.
    let offset = (numerator + count - 1) / count;
    Timestamp::from_nanosecond(bounds.start.as_nanosecond() + offset).ok()
}

/// The skip for an agent who has `taken` monitors (started or in flight) with `open` slots open:
/// None (a slot is free), QUOTA_REACHED (taken >= count), NOT_YET (otherwise).
pub fn verdict(taken: u32, open: u32, count: u32) -> Option<SkipReason> {
    if taken >= count {
        Some(SkipReason::QuotaReached)
    } else if taken < open {
        None
    } else {
        Some(SkipReason::NotYet)
    }
}

/// The local calendar date (YYYY-MM-DD) of `time` in `zone`: the record's partition.
pub fn day(time: Timestamp, zone: &TimeZone) -> String {
    time.to_zoned(zone.clone()).strftime("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn at(text: &str) -> Timestamp {
        Timestamp::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn hours(bounds: &Bounds) -> i128 {
        bounds.length_nanos() / 3_600_000_000_000
    }

    /// The slot opening times, as local times with their offsets.
    fn openings(bounds: &Bounds, count: u32, zone: &TimeZone) -> Vec<String> {
        (1..=count)
            .map(|k| match slot_opens(bounds, count, k) {
                Some(t) => rfc3339(&t.to_zoned(zone.clone())),
                None => panic!("slot {k} of {count}"),
            })
            .collect()
    }

    #[test]
    fn periods_are_spelled_in_lower_case() {
        assert_eq!(Period::from_str("week"), Ok(Period::Week));
        assert!(Period::from_str("Week").is_err());
        assert_eq!(Period::Month.to_string(), "month");
        assert_eq!(<&str>::from(Period::Day), "day");
    }

    #[test]
    fn three_a_week_open_monday_wednesday_and_friday() {
        let utc = TimeZone::UTC;
        // 2026-11-30 is a Monday; a Thursday in that week.
        let b = bounds(at("2026-12-03T12:00:00Z"), Period::Week, &utc);
        assert_eq!(b.start, at("2026-11-30T00:00:00Z"));
        assert_eq!(b.end, at("2026-12-07T00:00:00Z"));
        assert_eq!(b.label, "2026-11-30T00:00:00+00:00");
        assert_eq!(
            openings(&b, 3, &utc),
            [
                "2026-11-30T00:00:00+00:00",
                "2026-12-02T08:00:00+00:00",
                "2026-12-04T16:00:00+00:00"
            ]
        );
        let open = |t: &str| open_slots(at(t), &b, 3);
        assert_eq!(open("2026-11-30T00:00:00Z"), 1);
        assert_eq!(open("2026-12-02T07:59:59.999999999Z"), 1);
        assert_eq!(open("2026-12-02T08:00:00Z"), 2);
        assert_eq!(open("2026-12-04T15:59:59Z"), 2);
        assert_eq!(open("2026-12-04T16:00:00Z"), 3);
        assert_eq!(open("2026-12-06T23:59:59Z"), 3);
        // Monday and Sunday belong to the same week; the next Monday does not.
        assert_eq!(bounds(at("2026-11-30T00:00:00Z"), Period::Week, &utc), b);
        assert_eq!(bounds(at("2026-12-06T23:59:59Z"), Period::Week, &utc), b);
        assert_eq!(
            bounds(at("2026-12-07T00:00:00Z"), Period::Week, &utc).label,
            "2026-12-07T00:00:00+00:00"
        );
    }

    #[test]
    fn one_a_day_opens_at_midnight() {
        let utc = TimeZone::UTC;
        let b = bounds(at("2026-11-22T10:00:00Z"), Period::Day, &utc);
        assert_eq!(
            (b.start, b.end),
            (at("2026-11-22T00:00:00Z"), at("2026-11-23T00:00:00Z"))
        );
        assert_eq!(b.label, "2026-11-22T00:00:00+00:00");
        assert_eq!(openings(&b, 1, &utc), ["2026-11-22T00:00:00+00:00"]);
        assert_eq!(open_slots(b.start, &b, 1), 1);
        assert_eq!(open_slots(at("2026-11-22T23:59:59Z"), &b, 1), 1);
        // Four a day: every six hours.
        assert_eq!(
            openings(&b, 4, &utc),
            [
                "2026-11-22T00:00:00+00:00",
                "2026-11-22T06:00:00+00:00",
                "2026-11-22T12:00:00+00:00",
                "2026-11-22T18:00:00+00:00"
            ]
        );
    }

    #[test]
    fn months_of_28_29_30_and_31_days() {
        let utc = TimeZone::UTC;
        for (time, start, end, days) in [
            (
                "2027-02-14T09:00:00Z",
                "2027-02-01T00:00:00Z",
                "2027-03-01T00:00:00Z",
                28,
            ),
            (
                "2028-02-29T23:00:00Z",
                "2028-02-01T00:00:00Z",
                "2028-03-01T00:00:00Z",
                29,
            ),
            (
                "2026-11-30T23:59:59Z",
                "2026-11-01T00:00:00Z",
                "2026-12-01T00:00:00Z",
                30,
            ),
            (
                "2026-12-01T00:00:00Z",
                "2026-12-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
                31,
            ),
        ] {
            let b = bounds(at(time), Period::Month, &utc);
            assert_eq!((b.start, b.end), (at(start), at(end)), "{time}");
            assert_eq!(hours(&b), days * 24, "{time}");
        }
        // Two a month: the second opens half way through the month's real length.
        let feb = bounds(at("2027-02-14T09:00:00Z"), Period::Month, &utc);
        assert_eq!(openings(&feb, 2, &utc)[1], "2027-02-15T00:00:00+00:00");
        let nov = bounds(at("2026-11-03T00:00:00Z"), Period::Month, &utc);
        assert_eq!(openings(&nov, 2, &utc)[1], "2026-11-16T00:00:00+00:00");
        let dec = bounds(at("2026-12-03T00:00:00Z"), Period::Month, &utc);
        assert_eq!(openings(&dec, 2, &utc)[1], "2026-12-16T12:00:00+00:00");
        assert_eq!(openings(&dec, 31, &utc)[30], "2026-12-31T00:00:00+00:00");
    }

    #[test]
    fn london_days_of_23_and_25_hours() {
        let london = zone("Europe/London");
        // 2026-03-29: the clocks go from 01:00 GMT to 02:00 BST.
        let spring = bounds(at("2026-03-29T12:00:00Z"), Period::Day, &london);
        assert_eq!(hours(&spring), 23);
        assert_eq!(spring.label, "2026-03-29T00:00:00+00:00");
        assert_eq!(spring.end, at("2026-03-29T23:00:00Z"));
        // Two a day: the second opens 11.5 real hours after midnight, 12:30 on the clock.
        assert_eq!(
            openings(&spring, 2, &london),
            ["2026-03-29T00:00:00+00:00", "2026-03-29T12:30:00+01:00"]
        );
        // 2026-10-25: from 02:00 BST back to 01:00 GMT.
        let autumn = bounds(at("2026-10-25T12:00:00Z"), Period::Day, &london);
        assert_eq!(hours(&autumn), 25);
        assert_eq!(autumn.label, "2026-10-25T00:00:00+01:00");
        assert_eq!(
            openings(&autumn, 2, &london),
            ["2026-10-25T00:00:00+01:00", "2026-10-25T11:30:00+00:00"]
        );
        // The next day starts at midnight GMT; a summer day's label carries BST.
        assert_eq!(
            bounds(at("2026-10-26T00:00:00Z"), Period::Day, &london).label,
            "2026-10-26T00:00:00+00:00"
        );
        assert_eq!(
            bounds(at("2026-07-01T23:30:00Z"), Period::Day, &london).label,
            "2026-07-02T00:00:00+01:00",
            "23:30 UTC is already the next day in London"
        );
        // The week and the month around a change are an hour short.
        let week = bounds(at("2026-03-29T12:00:00Z"), Period::Week, &london);
        assert_eq!((week.label.as_str(), hours(&week)), ("2026-03-23T00:00:00+00:00", 167));
        let march = bounds(at("2026-03-29T12:00:00Z"), Period::Month, &london);
        assert_eq!(
            (march.label.as_str(), hours(&march)),
            ("2026-03-01T00:00:00+00:00", 743)
        );
        assert_eq!(march.end, at("2026-03-31T23:00:00Z"), "1 April 00:00 BST");
    }

    #[test]
    fn new_york_days_of_23_and_25_hours() {
        let new_york = zone("America/New_York");
        // 2026-03-08: from 02:00 EST to 03:00 EDT.
        let spring = bounds(at("2026-03-08T15:00:00Z"), Period::Day, &new_york);
        assert_eq!(hours(&spring), 23);
        assert_eq!(spring.label, "2026-03-08T00:00:00-05:00");
        assert_eq!(
            openings(&spring, 2, &new_york),
            ["2026-03-08T00:00:00-05:00", "2026-03-08T12:30:00-04:00"]
        );
        // 2026-11-01: from 02:00 EDT back to 01:00 EST.
        let autumn = bounds(at("2026-11-01T15:00:00Z"), Period::Day, &new_york);
        assert_eq!(hours(&autumn), 25);
        assert_eq!(autumn.label, "2026-11-01T00:00:00-04:00");
        assert_eq!(autumn.end, at("2026-11-02T05:00:00Z"));
        assert_eq!(
            openings(&autumn, 5, &new_york),
            [
                "2026-11-01T00:00:00-04:00",
                "2026-11-01T04:00:00-05:00",
                "2026-11-01T09:00:00-05:00",
                "2026-11-01T14:00:00-05:00",
                "2026-11-01T19:00:00-05:00"
            ],
            "every 5 real hours"
        );
        // Three a week across the change: 169 hours, a slot every 56 h 20 min.
        let week = bounds(at("2026-11-01T15:00:00Z"), Period::Week, &new_york);
        assert_eq!((week.label.as_str(), hours(&week)), ("2026-10-26T00:00:00-04:00", 169));
        assert_eq!(
            openings(&week, 3, &new_york),
            [
                "2026-10-26T00:00:00-04:00",
                "2026-10-28T08:20:00-04:00",
                "2026-10-30T16:40:00-04:00"
            ]
        );
        // An event at 03:30 UTC on the 1st of a month is still the last day of the month before.
        assert_eq!(
            bounds(at("2026-12-01T03:30:00Z"), Period::Month, &new_york).label,
            "2026-11-01T00:00:00-04:00"
        );
        assert_eq!(day(at("2026-12-01T03:30:00Z"), &new_york), "2026-11-30");
        assert_eq!(day(at("2026-12-01T03:30:00Z"), &TimeZone::UTC), "2026-12-01");
    }

    #[test]
    fn slots_outside_the_period_and_degenerate_counts() {
        let b = bounds(at("2026-11-22T10:00:00Z"), Period::Day, &TimeZone::UTC);
        assert_eq!(open_slots(at("2026-11-21T10:00:00Z"), &b, 3), 1, "before: the first");
        assert_eq!(open_slots(at("2026-11-24T10:00:00Z"), &b, 3), 3, "after: all");
        assert_eq!(open_slots(b.start, &b, 0), 0);
        assert_eq!(open_slots(at("2026-11-22T23:59:59Z"), &b, MAX_COUNT), 1000);
        assert_eq!(slot_opens(&b, 3, 0), None);
        assert_eq!(slot_opens(&b, 3, 4), None);
        // A thousand a day: one every 86.4 s.
        assert_eq!(slot_opens(&b, MAX_COUNT, 2), Some(at("2026-11-22T00:01:26.4Z")));
        assert_eq!(open_slots(at("2026-11-22T00:01:26.399999999Z"), &b, MAX_COUNT), 1);
        assert_eq!(open_slots(at("2026-11-22T00:01:26.4Z"), &b, MAX_COUNT), 2);
    }

    #[test]
    fn the_ends_of_time_are_clipped_not_a_panic() {
        for zone in [TimeZone::UTC, zone("America/New_York"), zone("Pacific/Kiritimati")] {
            for per in [Period::Day, Period::Week, Period::Month] {
                let b = bounds(Timestamp::MAX, per, &zone);
                assert!(b.start <= Timestamp::MAX && b.end == Timestamp::MAX, "{per} {b:?}");
                let b = bounds(Timestamp::MIN, per, &zone);
                assert!(b.start == Timestamp::MIN && b.end > b.start, "{per} {b:?}");
                assert!(open_slots(Timestamp::MIN, &b, 3) >= 1);
            }
        }
    }

    #[test]
    fn verdicts() {
        // A slot free: no skip.
        assert_eq!(verdict(0, 1, 3), None);
        assert_eq!(verdict(1, 2, 3), None);
        assert_eq!(
            verdict(0, 3, 3),
            None,
            "an agent who works on Friday only gets all three"
        );
        assert_eq!(verdict(2, 3, 3), None);
        // Every open slot taken, some still to open.
        assert_eq!(verdict(1, 1, 3), Some(SkipReason::NotYet));
        assert_eq!(verdict(2, 2, 3), Some(SkipReason::NotYet));
        // All N taken.
        assert_eq!(verdict(3, 3, 3), Some(SkipReason::QuotaReached));
        assert_eq!(verdict(3, 1, 3), Some(SkipReason::QuotaReached), "however few are open");
        assert_eq!(
            verdict(5, 3, 3),
            Some(SkipReason::QuotaReached),
            "more than N (never counted so)"
        );
        assert_eq!(verdict(0, 1, 1), None);
        assert_eq!(verdict(1, 1, 1), Some(SkipReason::QuotaReached));
    }
}
