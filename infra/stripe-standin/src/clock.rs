//! Unix timestamps and billing-period arithmetic on the civil (UTC) calendar, so a monthly
//! period that starts on Jan 31 ends on Feb 28/29 like Stripe's, without a date crate.

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

const DAY: i64 = 86_400;

/// The end of one billing period of `interval` (`day`, `week`, `month`, `year`) that starts
/// at `start`. Month and year periods keep the day of month, clamped to the month's length.
pub(crate) fn add_interval(start: i64, interval: &str) -> i64 {
    match interval {
        "day" => start + DAY,
        "week" => start + 7 * DAY,
        "year" => add_months(start, 12),
        _ => add_months(start, 1),
    }
}

/// `ts` moved `months` calendar months on, clamped to the month's last day.
pub(crate) fn add_months(ts: i64, months: i64) -> i64 {
    let days = ts.div_euclid(DAY);
    let secs = ts.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + (m - 1) + months;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let nd = d.min(days_in_month(ny, nm));
    days_from_civil(ny, nm, nd) * DAY + secs
}

/// `YYYY-MM-DD` for the hosted pages.
pub(crate) fn date(ts: i64) -> String {
    let (y, m, d) = civil_from_days(ts.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's algorithms (proleptic Gregorian calendar, day 0 = 1970-01-01).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(y: i64, m: i64, d: i64) -> i64 {
        days_from_civil(y, m, d) * DAY
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(ts(1970, 1, 1), 0);
        assert_eq!(date(1_700_000_000), "2023-11-14");
        for days in [-800_000, -1, 0, 59, 60, 11_016, 19_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn monthly_and_yearly_periods_clamp_to_month_end() {
        assert_eq!(add_interval(ts(2024, 1, 31) + 3600, "month"), ts(2024, 2, 29) + 3600);
        assert_eq!(add_interval(ts(2023, 12, 15), "month"), ts(2024, 1, 15));
        assert_eq!(add_interval(ts(2024, 2, 29), "year"), ts(2025, 2, 28));
        assert_eq!(add_interval(ts(2024, 3, 1), "week"), ts(2024, 3, 8));
        assert_eq!(add_interval(ts(2024, 3, 1), "day"), ts(2024, 3, 2));
    }
}
