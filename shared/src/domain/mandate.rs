//! Mandates as pure rules: standing consent a human gives one AGENT key, bounded by an
//! envelope (the highest plan and quantity, money charged per calendar month, credit bundles
//! per month, credits spent per day) and an expiry. What an action draws from the envelope is
//! counted per period (`used`, keyed by counter and period), and a draw carries, for each
//! bounded counter, the most it may find already used: the store writes the draw on that
//! condition, so racing actions can never exceed the envelope together.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::calendar::civil_from_days;
use crate::domain::catalog::{Catalog, money};
use crate::domain::invalid::{FieldProblem, Invalid};

/// The longest a mandate may run.
pub const MAX_DAYS: i64 = 90;
/// The most any counted limit may be (the schema's `maximum` of each).
pub const MAX_LIMIT: u64 = 1_000_000_000_000;
const DAY: i64 = 86_400;

/// The envelope. A limit left out does not cover its action (`max_plan` absent: no plan
/// change; `credit_bundles_per_month` absent: no purchase; `credits_spend_per_day` absent:
/// spends are not counted), except `max_charge_per_month`: absent, the money charged is
/// counted but bounded only by the other limits. Amounts are in the smallest currency unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MandateLimits {
    /// The highest plan of the catalog the agent may move to (any lower one too).
    #[serde(default)]
    #[schema(example = "pro")]
    pub max_plan: Option<String>,
    /// The most units of a per-unit plan (absent: 1).
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 1, example = 3)]
    pub max_quantity: Option<u32>,
    /// The most the agent's actions may cause to be charged per calendar month (UTC).
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_u64, example = 5000)]
    pub max_charge_per_month: Option<u64>,
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_u64, example = 2)]
    pub credit_bundles_per_month: Option<u64>,
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_u64, example = 500)]
    pub credits_spend_per_day: Option<u64>,
}

impl MandateLimits {
    /// For `#[serde(deserialize_with)]` in request bodies: a JSON object only (a derived
    /// `Deserialize` also takes an array of the fields in order, which the API does not offer).
    pub fn object<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        serde_json::from_value(serde_json::Value::Object(fields)).map_err(serde::de::Error::custom)
    }
}

/// A mandate as stored. `used` maps a counter and its period (`charge:2026-12`,
/// `bundles:2026-12`, `spend:2026-12-06`) to what was drawn in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    pub mandate_id: String,
    pub org_id: String,
    pub agent_key_id: String,
    pub limits: MandateLimits,
    /// When it lapses (not `expires_at`: the table's TTL attribute would delete it then).
    pub valid_until: i64,
    /// The key id of the human who granted it (or who approved the agent's request).
    pub granted_by: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    #[serde(default)]
    pub used: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MandateStatus {
    Active,
    Revoked,
    Expired,
}

/// One counter of the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Charge,
    Bundles,
    Spend,
}

impl Counter {
    /// The counter's key in `used` for the period `now` is in.
    pub fn key(self, now: i64) -> String {
        let (year, month, day) = civil_from_days(now.div_euclid(DAY));
        match self {
            Self::Charge => format!("charge:{year:04}-{month:02}"),
            Self::Bundles => format!("bundles:{year:04}-{month:02}"),
            Self::Spend => format!("spend:{year:04}-{month:02}-{day:02}"),
        }
    }

    /// The limit bounding it, by name (the `mandate_limit` an answer names).
    pub fn limit_name(self) -> &'static str {
        match self {
            Self::Charge => "max_charge_per_month",
            Self::Bundles => "credit_bundles_per_month",
            Self::Spend => "credits_spend_per_day",
        }
    }

    fn limit(self, limits: &MandateLimits) -> Option<u64> {
        match self {
            Self::Charge => limits.max_charge_per_month,
            Self::Bundles => limits.credit_bundles_per_month,
            Self::Spend => limits.credits_spend_per_day,
        }
    }
}

/// What one action asks of a mandate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MandateUse<'a> {
    /// A plan change to `plan` at `quantity`, charging `charge` now.
    PlanChange {
        plan: &'a str,
        quantity: u32,
        charge: u64,
    },
    /// Buying `bundles` credit bundles for `charge`.
    CreditBundles {
        bundles: u64,
        charge: u64,
    },
    Spend {
        credits: u64,
    },
}

/// One counter's share of a draw: add `amount` under `key`, on condition that no more than
/// `at_most_used` is used already (`None`: unbounded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawItem {
    pub key: String,
    pub amount: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most_used: Option<u64>,
}

/// What an action takes from a mandate, written atomically with the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draw {
    pub mandate_id: String,
    pub agent_key_id: String,
    pub items: Vec<DrawItem>,
}

/// Why a mandate does not cover an action: the limit that stops it (`no_mandate`, `expired`,
/// `revoked`, or a limit's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uncovered(pub &'static str);

/// What remains of each bounded limit this period (`None`: not bounded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Remaining {
    pub charge_this_month: Option<u64>,
    pub credit_bundles_this_month: Option<u64>,
    pub credits_spend_today: Option<u64>,
}

/// What was drawn this period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Used {
    pub charged_this_month: u64,
    pub credit_bundles_this_month: u64,
    pub credits_spent_today: u64,
}

impl Mandate {
    pub fn status(&self, now: i64) -> MandateStatus {
        match self.revoked_at {
            Some(_) => MandateStatus::Revoked,
            None if now >= self.valid_until => MandateStatus::Expired,
            None => MandateStatus::Active,
        }
    }

    fn used_of(&self, counter: Counter, now: i64) -> u64 {
        self.used.get(&counter.key(now)).copied().unwrap_or(0)
    }

    pub fn used(&self, now: i64) -> Used {
        Used {
            charged_this_month: self.used_of(Counter::Charge, now),
            credit_bundles_this_month: self.used_of(Counter::Bundles, now),
            credits_spent_today: self.used_of(Counter::Spend, now),
        }
    }

    pub fn remaining(&self, now: i64) -> Remaining {
        let left = |counter: Counter| counter.limit(&self.limits).map(|limit| limit.saturating_sub(self.used_of(counter, now)));
        Remaining {
            charge_this_month: left(Counter::Charge),
            credit_bundles_this_month: left(Counter::Bundles),
            credits_spend_today: left(Counter::Spend),
        }
    }

    /// Whether this mandate covers `action` now, and if so what it draws.
    pub fn draw(&self, action: &MandateUse<'_>, catalog: &Catalog, now: i64) -> Result<Draw, Uncovered> {
        match self.status(now) {
            MandateStatus::Active => {}
            MandateStatus::Revoked => return Err(Uncovered("revoked")),
            MandateStatus::Expired => return Err(Uncovered("expired")),
        }
        let counted: Vec<(Counter, u64)> = match *action {
            MandateUse::PlanChange { plan, quantity, charge } => {
                let rank = |id: &str| catalog.plans.iter().position(|p| p.id == id);
                let Some(max_plan) = self.limits.max_plan.as_deref() else { return Err(Uncovered("max_plan")) };
                if rank(plan).is_none() || rank(plan) > rank(max_plan) {
                    return Err(Uncovered("max_plan"));
                }
                if quantity > self.limits.max_quantity.unwrap_or(1) {
                    return Err(Uncovered("max_quantity"));
                }
                vec![(Counter::Charge, charge)]
            }
            MandateUse::CreditBundles { bundles, charge } => {
                if self.limits.credit_bundles_per_month.is_none() {
                    return Err(Uncovered("credit_bundles_per_month"));
                }
                vec![(Counter::Bundles, bundles), (Counter::Charge, charge)]
            }
            MandateUse::Spend { credits } => {
                if self.limits.credits_spend_per_day.is_none() {
                    return Err(Uncovered("credits_spend_per_day"));
                }
                vec![(Counter::Spend, credits)]
            }
        };
        let mut items = Vec::new();
        for (counter, amount) in counted.into_iter().filter(|(_, amount)| *amount > 0) {
            let at_most_used = match counter.limit(&self.limits) {
                Some(limit) => Some(limit.checked_sub(amount).ok_or(Uncovered(counter.limit_name()))?),
                None => None,
            };
            if at_most_used.is_some_and(|most| self.used_of(counter, now) > most) {
                return Err(Uncovered(counter.limit_name()));
            }
            items.push(DrawItem { key: counter.key(now), amount, at_most_used });
        }
        Ok(Draw { mandate_id: self.mandate_id.clone(), agent_key_id: self.agent_key_id.clone(), items })
    }
}

/// Checks a grant's envelope and expiry: a plan of the catalog, a quantity some plan allows, an
/// expiry in the future and at most `MAX_DAYS` ahead. An envelope that covers nothing is valid
/// (and useless): every limit is optional.
pub fn check_grant(limits: &MandateLimits, expires_at: i64, catalog: &Catalog, now: i64) -> Result<(), Invalid> {
    let mut problems = Vec::new();
    if let Some(plan_id) = limits.max_plan.as_ref().filter(|id| catalog.plan(id).is_none()) {
        problems.push(FieldProblem::new("limits.max_plan", format!("`{plan_id}` is not a plan of the catalog")));
    }
    let most = catalog.plans.iter().filter_map(|plan| plan.per_unit.as_ref()).map(|unit| unit.max_quantity).max().unwrap_or(1);
    if let Some(q) = limits.max_quantity.filter(|q| !(1..=most).contains(q)) {
        problems.push(FieldProblem::new("limits.max_quantity", format!("must be 1 to {most}, not {q}")));
    }
    let counted = [
        ("limits.max_charge_per_month", limits.max_charge_per_month),
        ("limits.credit_bundles_per_month", limits.credit_bundles_per_month),
        ("limits.credits_spend_per_day", limits.credits_spend_per_day),
    ];
    for (field, _) in counted.into_iter().filter(|(_, limit)| limit.is_some_and(|n| n > MAX_LIMIT)) {
        problems.push(FieldProblem::new(field, format!("must be at most {MAX_LIMIT}")));
    }
    if expires_at <= now {
        problems.push(FieldProblem::new("expires_at", "must be in the future"));
    } else if expires_at > now + MAX_DAYS * DAY {
        problems.push(FieldProblem::new("expires_at", format!("must be at most {MAX_DAYS} days ahead")));
    }
    Invalid::unless_any(problems)
}

/// What an agent asks its human for: an envelope, an expiry, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MandateAsk {
    pub limits: MandateLimits,
    pub valid_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One line of an envelope in words, as the approval page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EnvelopeLine {
    pub label: String,
    pub value: String,
}

/// The envelope in words and numbers, a line per limit given (a limit left out is said to
/// cover nothing).
pub fn envelope_lines(limits: &MandateLimits, catalog: &Catalog) -> Vec<EnvelopeLine> {
    let line = |label: &str, value: String| EnvelopeLine { label: label.to_string(), value };
    let mut lines = Vec::new();
    match &limits.max_plan {
        Some(plan_id) => {
            let name = catalog.plan(plan_id).map_or(plan_id.as_str(), |p| p.name.as_str());
            let units = limits.max_quantity.filter(|q| *q > 1).map(|q| format!(", up to {q} units")).unwrap_or_default();
            lines.push(line("Plan changes", format!("up to {name}{units}")));
        }
        None => lines.push(line("Plan changes", "none".into())),
    }
    lines.push(line(
        "Charges",
        limits.max_charge_per_month.map_or("no monthly cap beyond the limits above and below".into(), |cents| {
            format!("up to {} a month", money(i64::try_from(cents).unwrap_or(i64::MAX), &catalog.currency))
        }),
    ));
    lines.push(line(
        "Credit bundles",
        limits.credit_bundles_per_month.map_or("none".into(), |n| {
            let credits = n.saturating_mul(catalog.credits.credits_per_bundle);
            format!("up to {n} a month ({credits} credits)")
        }),
    ));
    if let Some(per_day) = limits.credits_spend_per_day {
        lines.push(line("Credits spent", format!("up to {per_day} a day")));
    }
    lines
}

/// Mandate ids are `md_` and 32 lowercase hex digits.
pub fn is_mandate_id(text: &str) -> bool {
    text.strip_prefix("md_").is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_515_200; // 2026-12-06T00:00:00Z

    fn mandate(limits: MandateLimits) -> Mandate {
        Mandate {
            mandate_id: "md_1".into(),
            org_id: "acme".into(),
            agent_key_id: "k1".into(),
            limits,
            valid_until: NOW + 10 * DAY,
            granted_by: "h1".into(),
            created_at: NOW,
            revoked_at: None,
            revoked_by: None,
            used: BTreeMap::new(),
        }
    }

    fn catalog() -> Catalog {
        Catalog::built_in().unwrap()
    }

    #[test]
    fn counters_are_kept_per_calendar_month_and_day() {
        assert_eq!(Counter::Charge.key(NOW), "charge:2026-12");
        assert_eq!(Counter::Spend.key(NOW + DAY - 1), "spend:2026-12-06");
        assert_eq!(Counter::Spend.key(NOW + DAY), "spend:2026-12-07");
        assert_eq!(Counter::Bundles.key(NOW + 26 * DAY), "bundles:2027-01");
    }

    #[test]
    fn a_charge_that_exactly_fits_draws_and_one_more_cent_does_not() {
        let mut m = mandate(MandateLimits { max_plan: Some("pro".into()), max_charge_per_month: Some(5000), ..Default::default() });
        m.used.insert("charge:2026-12".into(), 3000);
        let fits = m.draw(&MandateUse::PlanChange { plan: "pro", quantity: 1, charge: 2000 }, &catalog(), NOW).unwrap();
        assert_eq!(fits.items, vec![DrawItem { key: "charge:2026-12".into(), amount: 2000, at_most_used: Some(3000) }]);
        let over = m.draw(&MandateUse::PlanChange { plan: "pro", quantity: 1, charge: 2001 }, &catalog(), NOW);
        assert_eq!(over, Err(Uncovered("max_charge_per_month")));
        assert_eq!(m.remaining(NOW).charge_this_month, Some(2000));
        assert_eq!(m.remaining(NOW + 26 * DAY).charge_this_month, Some(5000), "a new month starts afresh");
    }

    #[test]
    fn plan_and_quantity_bound_plan_changes() {
        let m = mandate(MandateLimits { max_plan: Some("pro".into()), ..Default::default() });
        let c = catalog();
        let top = c.top().id.clone();
        assert_eq!(m.draw(&MandateUse::PlanChange { plan: &top, quantity: 1, charge: 0 }, &c, NOW), Err(Uncovered("max_plan")));
        assert_eq!(m.draw(&MandateUse::PlanChange { plan: "pro", quantity: 2, charge: 0 }, &c, NOW), Err(Uncovered("max_quantity")));
        let free = m.draw(&MandateUse::PlanChange { plan: "free", quantity: 1, charge: 0 }, &c, NOW).unwrap();
        assert!(free.items.is_empty(), "nothing charged, nothing counted");
        let none = mandate(MandateLimits { credits_spend_per_day: Some(5), ..Default::default() });
        assert_eq!(none.draw(&MandateUse::PlanChange { plan: "free", quantity: 1, charge: 0 }, &c, NOW), Err(Uncovered("max_plan")));
    }

    #[test]
    fn bundles_count_against_their_limit_and_the_money() {
        let m = mandate(MandateLimits { credit_bundles_per_month: Some(2), max_charge_per_month: Some(1000), ..Default::default() });
        let c = catalog();
        assert_eq!(m.draw(&MandateUse::CreditBundles { bundles: 3, charge: 30 }, &c, NOW), Err(Uncovered("credit_bundles_per_month")));
        assert_eq!(m.draw(&MandateUse::CreditBundles { bundles: 2, charge: 1001 }, &c, NOW), Err(Uncovered("max_charge_per_month")));
        assert_eq!(m.draw(&MandateUse::CreditBundles { bundles: 2, charge: 1000 }, &c, NOW).unwrap().items.len(), 2);
    }

    #[test]
    fn spends_count_per_day_and_a_closed_mandate_covers_nothing() {
        let mut m = mandate(MandateLimits { credits_spend_per_day: Some(500), ..Default::default() });
        m.used.insert("spend:2026-12-06".into(), 500);
        let c = catalog();
        assert_eq!(m.draw(&MandateUse::Spend { credits: 1 }, &c, NOW), Err(Uncovered("credits_spend_per_day")));
        assert!(m.draw(&MandateUse::Spend { credits: 500 }, &c, NOW + DAY).is_ok(), "tomorrow is a new day");
        assert_eq!(m.draw(&MandateUse::Spend { credits: 1 }, &c, m.valid_until), Err(Uncovered("expired")));
        m.revoked_at = Some(NOW);
        assert_eq!(m.status(NOW), MandateStatus::Revoked);
        assert_eq!(m.draw(&MandateUse::Spend { credits: 1 }, &c, NOW + DAY), Err(Uncovered("revoked")));
    }

    #[test]
    fn a_grant_needs_a_known_plan_something_covered_and_a_near_expiry() {
        let c = catalog();
        let ok = MandateLimits { max_plan: Some("pro".into()), ..Default::default() };
        assert!(check_grant(&ok, NOW + MAX_DAYS * DAY, &c, NOW).is_ok());
        assert!(check_grant(&ok, NOW + MAX_DAYS * DAY + 1, &c, NOW).is_err());
        assert!(check_grant(&ok, NOW, &c, NOW).is_err());
        let unknown = MandateLimits { max_plan: Some("gold".into()), max_quantity: Some(0), ..Default::default() };
        let err = check_grant(&unknown, NOW, &c, NOW).unwrap_err();
        assert_eq!(err.problems.len(), 3, "plan, quantity and expiry, each named");
        assert!(check_grant(&MandateLimits::default(), NOW + DAY, &c, NOW).is_ok(), "an envelope may cover nothing");
        let huge =
            MandateLimits { max_charge_per_month: Some(MAX_LIMIT + 1), credits_spend_per_day: Some(MAX_LIMIT), ..Default::default() };
        assert_eq!(check_grant(&huge, NOW + DAY, &c, NOW).unwrap_err().problems.len(), 1, "the schema's maximum holds");
    }

    #[test]
    fn the_envelope_reads_in_words_and_numbers() {
        let limits = MandateLimits {
            max_plan: Some("pro".into()),
            max_quantity: None,
            max_charge_per_month: Some(5000),
            credit_bundles_per_month: None,
            credits_spend_per_day: Some(500),
        };
        let lines: Vec<(String, String)> = envelope_lines(&limits, &catalog()).into_iter().map(|l| (l.label, l.value)).collect();
        assert_eq!(lines[0], ("Plan changes".into(), "up to Pro".into()));
        assert_eq!(lines[1], ("Charges".into(), "up to $50.00 a month".into()));
        assert_eq!(lines[2], ("Credit bundles".into(), "none".into()));
        assert_eq!(lines[3], ("Credits spent".into(), "up to 500 a day".into()));
    }

    #[test]
    fn limits_in_a_body_are_an_object_only() {
        #[derive(Deserialize)]
        struct Body {
            #[serde(deserialize_with = "MandateLimits::object")]
            limits: MandateLimits,
        }
        let parsed: Body = serde_json::from_str(r#"{"limits":{"max_plan":"pro","credits_spend_per_day":5}}"#).unwrap();
        assert_eq!(parsed.limits.credits_spend_per_day, Some(5));
        assert!(serde_json::from_str::<Body>(r#"{"limits":[null,null]}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"limits":{"max_plan":"pro","colour":1}}"#).is_err());
    }

    #[test]
    fn mandate_ids_are_well_formed() {
        assert!(is_mandate_id(&format!("md_{}", "a".repeat(32))));
        assert!(!is_mandate_id("md_1"));
        assert!(!is_mandate_id(&format!("ap_{}", "a".repeat(32))));
    }
}
