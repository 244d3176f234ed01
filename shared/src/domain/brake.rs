//! The brake for runaway agents: an AGENT key refused more than `max_refusals_per_minute`
//! times within one minute is paused for `pause_minutes`, and every request it makes meanwhile
//! answers 429 `agent_paused`. Both numbers are org settings.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::invalid::{FieldProblem, Invalid};

/// The statuses that count as a refusal: the caller asked for something it may not have now
/// (a cap, a conflict, a reused key, too fast). Bad input and auth failures are not counted.
pub const REFUSAL_STATUSES: [u16; 4] = [402, 409, 422, 429];

pub const DEFAULT_MAX_REFUSALS_PER_MINUTE: u32 = 20;
pub const DEFAULT_PAUSE_MINUTES: u32 = 5;
/// The bounds of the settings. The lowest threshold is also the count below which a refusal
/// needs no read of the org's settings (see `billing::brake`).
pub const MAX_REFUSALS_PER_MINUTE: std::ops::RangeInclusive<u32> = 5..=100_000;
pub const PAUSE_MINUTES: std::ops::RangeInclusive<u32> = 1..=1440;

/// An org's brake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentBrake {
    /// An AGENT key refused more often than this within one minute is paused.
    #[schema(minimum = 5, maximum = 100000, example = 20)]
    pub max_refusals_per_minute: u32,
    /// How long a paused key stays paused, unless a human resumes it earlier.
    #[schema(minimum = 1, maximum = 1440, example = 5)]
    pub pause_minutes: u32,
}

impl Default for AgentBrake {
    fn default() -> Self {
        Self { max_refusals_per_minute: DEFAULT_MAX_REFUSALS_PER_MINUTE, pause_minutes: DEFAULT_PAUSE_MINUTES }
    }
}

/// A change of the brake: the fields given replace the org's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentBrakeChange {
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 5, maximum = 100000)]
    pub max_refusals_per_minute: Option<u32>,
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 1, maximum = 1440)]
    pub pause_minutes: Option<u32>,
}

impl AgentBrakeChange {
    /// Refuses values outside the bounds, naming each field at fault.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut problems = Vec::new();
        if let Some(n) = self.max_refusals_per_minute.filter(|n| !MAX_REFUSALS_PER_MINUTE.contains(n)) {
            let (low, high) = (MAX_REFUSALS_PER_MINUTE.start(), MAX_REFUSALS_PER_MINUTE.end());
            problems.push(FieldProblem::new("agent_brake.max_refusals_per_minute", format!("must be from {low} to {high}, not {n}")));
        }
        if let Some(m) = self.pause_minutes.filter(|m| !PAUSE_MINUTES.contains(m)) {
            let (low, high) = (PAUSE_MINUTES.start(), PAUSE_MINUTES.end());
            problems.push(FieldProblem::new("agent_brake.pause_minutes", format!("must be from {low} to {high}, not {m}")));
        }
        Invalid::unless_any(problems)
    }
}

pub fn is_refusal(status: u16) -> bool {
    REFUSAL_STATUSES.contains(&status)
}

/// The minute `now` falls in (epoch minutes): refusals are counted per minute.
pub fn minute_of(now: i64) -> i64 {
    now.div_euclid(60)
}

/// Whether `refusals` within one minute engage the brake: more than the threshold, not as many.
pub fn engages(brake: &AgentBrake, refusals: u64) -> bool {
    refusals > u64::from(brake.max_refusals_per_minute)
}

/// Until when a key the brake engages for at `now` stays paused.
pub fn paused_until(brake: &AgentBrake, now: i64) -> i64 {
    now + i64::from(brake.pause_minutes) * 60
}

/// The seconds left of a pause at `now` (`Retry-After`), `None` when the key is not paused.
pub fn retry_after(paused_until: Option<i64>, now: i64) -> Option<u64> {
    paused_until.filter(|until| *until > now).map(|until| (until - now) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brake_engages_above_the_threshold_not_at_it() {
        let brake = AgentBrake::default();
        assert!(!engages(&brake, 20));
        assert!(engages(&brake, 21));
        assert_eq!(paused_until(&brake, 1_000), 1_300);
    }

    #[test]
    fn a_pause_lasts_until_its_end_and_no_longer() {
        assert_eq!(retry_after(Some(1_300), 1_000), Some(300));
        assert_eq!(retry_after(Some(1_300), 1_299), Some(1));
        assert_eq!(retry_after(Some(1_300), 1_300), None);
        assert_eq!(retry_after(None, 1_000), None);
    }

    #[test]
    fn refusals_are_counted_per_minute() {
        assert_eq!(minute_of(119), 1);
        assert_eq!(minute_of(120), 2);
        assert!(is_refusal(402) && is_refusal(429) && !is_refusal(400) && !is_refusal(403));
    }

    #[test]
    fn changes_outside_the_bounds_name_their_fields() {
        let ok = AgentBrakeChange { max_refusals_per_minute: Some(5), pause_minutes: Some(1440) };
        assert!(ok.validate().is_ok());
        let bad = AgentBrakeChange { max_refusals_per_minute: Some(4), pause_minutes: Some(0) };
        let fields: Vec<_> = bad.validate().unwrap_err().problems.into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["agent_brake.max_refusals_per_minute", "agent_brake.pause_minutes"]);
    }
}
