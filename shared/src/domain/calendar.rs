//! UTC calendar arithmetic on epoch seconds (no time zones, no leap seconds), for usage periods
//! and dates given on the command line.

const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: (year, month 1-12, day 1-31).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if month <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, month, day)
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `at` moved by `months` calendar months, keeping the time of day; the day of month is
/// `anchor_day`, or the month's last day when it is shorter (Jan 31 -> Feb 28 -> Mar 31), as
/// Stripe moves billing periods.
pub fn add_months(at: i64, months: i64, anchor_day: u32) -> i64 {
    let (year, month, _) = civil_from_days(at.div_euclid(DAY));
    let index = year * 12 + i64::from(month) - 1 + months;
    let (year, month) = (index.div_euclid(12), (index.rem_euclid(12) + 1) as u32);
    let day = anchor_day.clamp(1, days_in_month(year, month));
    days_from_civil(year, month, day) * DAY + at.rem_euclid(DAY)
}

/// The first second of the UTC calendar month after the one `now` is in.
pub fn next_month_start(now: i64) -> i64 {
    let (year, month, _) = civil_from_days(now.div_euclid(DAY));
    add_months(days_from_civil(year, month, 1) * DAY, 1, 1)
}

/// The day of month (1-31) of `at`.
pub fn day_of_month(at: i64) -> u32 {
    civil_from_days(at.div_euclid(DAY)).2
}

/// The end of the period that contains `now` in the sequence of periods ending at
/// `anchor_end` moved by whole steps of `months` (periods are `(end - step, end]` shifted
/// so that `now` is before the end): the smallest `anchor_end + k * months` after `now`.
pub fn period_end_after(anchor_end: i64, months: i64, now: i64) -> i64 {
    let months = months.max(1);
    let anchor_day = day_of_month(anchor_end);
    // Start from an estimate (about 30.44 days a month) and correct it step by step.
    let mut k = (now - anchor_end).div_euclid(2_629_746 * months);
    while add_months(anchor_end, k * months, anchor_day) > now {
        k -= 1;
    }
    while add_months(anchor_end, k * months, anchor_day) <= now {
        k += 1;
    }
    add_months(anchor_end, k * months, anchor_day)
}

/// The forms `parse_instant` reads, as errors and the API document name them.
pub const INSTANT_FORMS: &str = "YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or epoch seconds";

/// `at` as RFC 3339 in UTC (`2027-03-01T00:00:00Z`).
pub fn format_instant(at: i64) -> String {
    let (year, month, day) = civil_from_days(at.div_euclid(DAY));
    let secs = at.rem_euclid(DAY);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Epoch seconds are at most this many digits (any such number fits an i64).
pub const MAX_EPOCH_DIGITS: usize = 18;

/// `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DDTHH:MM:SSZ`, or epoch seconds; exactly these, no
/// surrounding spaces, as the API document says.
pub fn parse_instant(text: &str) -> Option<i64> {
    if (1..=MAX_EPOCH_DIGITS).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time.strip_suffix('Z')?)),
        None => (text, None),
    };
    let number =
        |part: &str, len: usize| (part.len() == len && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse::<u32>().ok())?;
    let mut parts = date.split('-');
    let (year, month, day) = (number(parts.next()?, 4)?, number(parts.next()?, 2)?, number(parts.next()?, 2)?);
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=days_in_month(i64::from(year), month)).contains(&day) {
        return None;
    }
    let seconds = match time {
        None => 0,
        Some(time) => {
            let mut parts = time.split(':');
            let (h, m, s) = (number(parts.next()?, 2)?, number(parts.next()?, 2)?, number(parts.next()?, 2)?);
            if parts.next().is_some() || h > 23 || m > 59 || s > 59 {
                return None;
            }
            i64::from(h * 3_600 + m * 60 + s)
        }
    };
    Some(days_from_civil(i64::from(year), month, day) * DAY + seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_format_as_rfc3339_and_parse_back() {
        for at in [0, 1_796_515_200, 1_796_515_200 + 3_661, 951_782_400] {
            assert_eq!(parse_instant(&format_instant(at)), Some(at), "{at}");
        }
        assert_eq!(format_instant(1_796_515_200 + 3_661), "2026-12-06T01:01:01Z");
    }

    #[test]
    fn days_round_trip_and_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29) * DAY, 1_709_164_800);
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn months_keep_the_anchor_day_and_clamp_short_months() {
        let jan31 = days_from_civil(2025, 1, 31) * DAY + 3_600;
        assert_eq!(add_months(jan31, 1, 31), days_from_civil(2025, 2, 28) * DAY + 3_600);
        assert_eq!(add_months(jan31, 2, 31), days_from_civil(2025, 3, 31) * DAY + 3_600);
        assert_eq!(add_months(jan31, 13, 31), days_from_civil(2026, 2, 28) * DAY + 3_600);
        assert_eq!(add_months(jan31, -2, 31), days_from_civil(2024, 11, 30) * DAY + 3_600);
        assert_eq!(next_month_start(days_from_civil(2025, 12, 31) * DAY + 86_399), days_from_civil(2026, 1, 1) * DAY);
        assert_eq!(next_month_start(days_from_civil(2025, 2, 1) * DAY), days_from_civil(2025, 3, 1) * DAY);
    }

    #[test]
    fn period_end_is_the_first_anchored_end_after_now() {
        let anchor = days_from_civil(2025, 1, 15) * DAY;
        let now = days_from_civil(2025, 4, 20) * DAY;
        assert_eq!(period_end_after(anchor, 1, now), days_from_civil(2025, 5, 15) * DAY);
        assert_eq!(period_end_after(anchor, 1, anchor), days_from_civil(2025, 2, 15) * DAY, "an end is not after itself");
        assert_eq!(period_end_after(anchor, 1, anchor - 1), anchor);
        assert_eq!(period_end_after(anchor, 12, now), days_from_civil(2026, 1, 15) * DAY);
        let earlier = days_from_civil(2024, 6, 1) * DAY;
        assert_eq!(period_end_after(anchor, 1, earlier), days_from_civil(2024, 6, 15) * DAY);
    }

    #[test]
    fn instants_parse_in_three_forms() {
        assert_eq!(parse_instant("2025-03-01"), Some(days_from_civil(2025, 3, 1) * DAY));
        assert_eq!(parse_instant("2025-03-01T01:02:03Z"), Some(days_from_civil(2025, 3, 1) * DAY + 3_723));
        assert_eq!(parse_instant("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_instant("999999999999999999"), Some(999_999_999_999_999_999));
        for bad in [
            "",
            "2025-13-01",
            "2025-02-30",
            "2025-3-1",
            "yesterday",
            "2025-03-01T25:00:00Z",
            "2025-03-01T01:02:03",
            " 2025-03-01",
            "1700000000 ",
            "1000000000000000000",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }
}
