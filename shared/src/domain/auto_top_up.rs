//! Automatic top-up, an org setting: when a spend takes the credits balance from at least
//! `below` to under it, buy `bundles` credit bundles with the card on file, at most
//! `max_per_month` times a calendar month, inside the mandate of the AGENT key `agent_key_id`
//! (its `credit_bundles_per_month` and `max_charge_per_month`). The spend itself never waits: the
//! top-up runs afterwards, from the table's stream.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::calendar::civil_from_days;
use crate::domain::invalid::{FieldProblem, Invalid};

/// The most credits `below` may name (the most one spend may take).
pub const MAX_BELOW: u64 = 1_000_000_000;
/// The most automatic top-ups one month may allow.
pub const MAX_PER_MONTH: u32 = 100;

/// An org's automatic top-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoTopUp {
    /// A spend that takes the balance from at least this to under it buys credits.
    #[serde(deserialize_with = "crate::domain::whole_number::required")]
    #[schema(minimum = 1, maximum = 1_000_000_000, example = 100)]
    pub below: u64,
    /// Credit bundles each top-up buys (1 to the catalog's most per purchase).
    #[serde(deserialize_with = "crate::domain::whole_number::required")]
    #[schema(minimum = 1, example = 1)]
    pub bundles: u32,
    /// Top-ups per calendar month (UTC), counted when one is attempted, paid or refused.
    #[serde(deserialize_with = "crate::domain::whole_number::required")]
    #[schema(minimum = 1, maximum = 100, example = 3)]
    pub max_per_month: u32,
    /// The AGENT key whose mandate pays: each top-up draws from it, and none runs outside it.
    #[schema(example = "3f2a9c1e5b7d4a60")]
    pub agent_key_id: String,
}

impl AutoTopUp {
    /// Refuses values outside the bounds, naming each field at fault (`max_bundles`: the
    /// catalog's most bundles per purchase).
    pub fn validate(&self, max_bundles: u32) -> Result<(), Invalid> {
        let mut problems = Vec::new();
        if !(1..=MAX_BELOW).contains(&self.below) {
            problems.push(FieldProblem::new("auto_top_up.below", format!("must be from 1 to {MAX_BELOW}")));
        }
        if !(1..=max_bundles).contains(&self.bundles) {
            problems.push(FieldProblem::new("auto_top_up.bundles", format!("must be from 1 to {max_bundles}")));
        }
        if !(1..=MAX_PER_MONTH).contains(&self.max_per_month) {
            problems.push(FieldProblem::new("auto_top_up.max_per_month", format!("must be from 1 to {MAX_PER_MONTH}")));
        }
        if self.agent_key_id.is_empty() || self.agent_key_id.len() > 64 || !self.agent_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            problems.push(FieldProblem::new("auto_top_up.agent_key_id", "must be the key id of one of the org's AGENT keys"));
        }
        Invalid::unless_any(problems)
    }

    /// Whether a spend from `before` to `after` crosses the threshold (once per crossing: a
    /// balance already under it crosses nothing).
    pub fn crossed(&self, before: i64, after: i64) -> bool {
        let below = i64::try_from(self.below).unwrap_or(i64::MAX);
        before >= below && after < below
    }
}

/// The calendar month (UTC) that `now` falls in, as the counter of top-ups names it (`2026-12`).
pub fn month_of(now: i64) -> String {
    let (year, month, _) = civil_from_days(now.div_euclid(86_400));
    format!("{year:04}-{month:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting() -> AutoTopUp {
        AutoTopUp { below: 100, bundles: 2, max_per_month: 3, agent_key_id: "abc123".into() }
    }

    #[test]
    fn only_the_spend_that_goes_under_the_threshold_crosses_it() {
        let s = setting();
        assert!(s.crossed(100, 99));
        assert!(s.crossed(500, 0));
        assert!(!s.crossed(100, 100));
        assert!(!s.crossed(99, 50));
        assert!(!s.crossed(101, 100));
    }

    #[test]
    fn values_outside_the_bounds_name_their_fields() {
        assert!(setting().validate(10).is_ok());
        let bad = AutoTopUp { below: 0, bundles: 11, max_per_month: 0, agent_key_id: "no key!".into() };
        let fields: Vec<_> = bad.validate(10).unwrap_err().problems.into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["auto_top_up.below", "auto_top_up.bundles", "auto_top_up.max_per_month", "auto_top_up.agent_key_id"]);
    }

    #[test]
    fn top_ups_are_counted_per_calendar_month() {
        // 2026-12-31T23:59:59Z and a second later.
        assert_eq!(month_of(1_798_761_599), "2026-12");
        assert_eq!(month_of(1_798_761_600), "2027-01");
    }
}
