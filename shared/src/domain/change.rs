//! A plan change as data: the configuration it moves between, what it costs, how Stripe makes
//! it, and the intent an execution records before its first Stripe write (so every later
//! attempt replays exactly the same requests).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::mandate::Draw;

use crate::domain::catalog::{Catalog, FREE_PLAN, Interval, Price};
use crate::domain::principal::Actor;

/// A plan configuration: plan, interval, quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanConfig {
    pub plan: String,
    /// Absent for Free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    pub quantity: u32,
}

impl PlanConfig {
    pub fn free() -> Self {
        Self { plan: FREE_PLAN.to_string(), interval: None, quantity: 1 }
    }

    /// The catalog's price of this plan and interval; none for free.
    pub fn price<'a>(&self, catalog: &'a Catalog) -> Option<&'a Price> {
        catalog.plan(&self.plan)?.prices.get(self.interval?)
    }

    /// The recurring amount in the smallest currency unit, 0 for free.
    pub fn amount(&self, catalog: &Catalog) -> u64 {
        self.price(catalog).map_or(0, |p| p.unit_amount * u64::from(self.quantity))
    }

    /// Per year, to compare a monthly and an annual configuration.
    pub fn yearly(&self, catalog: &Catalog) -> u64 {
        match self.interval {
            Some(Interval::Month) => self.amount(catalog) * 12,
            _ => self.amount(catalog),
        }
    }
}

/// What a plan change did (or found done). Upgrade: `already-on-plan` (nothing to do),
/// `resumed` (a scheduled cancel or change was lifted), `switched` (a dearer configuration
/// applied now, the proration invoiced at once), `change-scheduled` (a cheaper one from the
/// period end). Downgrade: `downgrade-scheduled` (the subscription ends at the period end, then
/// the org is on Free), `already-scheduled` (it was set to end already), `already-free` (no
/// subscription). Trials: `trial-ended` (the first period started and was charged),
/// `trial-extended` (its end moved later; nothing charged). Promotion code:
/// `discount-applied`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AppliedStatus {
    AlreadyOnPlan,
    Resumed,
    Switched,
    ChangeScheduled,
    DowngradeScheduled,
    AlreadyScheduled,
    AlreadyFree,
    TrialEnded,
    TrialExtended,
    DiscountApplied,
}

/// How a change happens at Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    SwitchNow,
    AtPeriodEnd,
    ToFree,
    Resume,
    /// The trial ends now: the first period starts, its invoice charged at once.
    EndTrial,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SwitchNow => "switch_now",
            Self::AtPeriodEnd => "at_period_end",
            Self::ToFree => "to_free",
            Self::Resume => "resume",
            Self::EndTrial => "end_trial",
        }
    }

    /// The `status` of the answer once the change executed.
    pub fn executed_status(self) -> AppliedStatus {
        match self {
            Self::SwitchNow => AppliedStatus::Switched,
            Self::AtPeriodEnd => AppliedStatus::ChangeScheduled,
            Self::ToFree => AppliedStatus::DowngradeScheduled,
            Self::Resume => AppliedStatus::Resumed,
            Self::EndTrial => AppliedStatus::TrialEnded,
        }
    }

    /// Whether the answer names when the change takes effect (the period end).
    pub fn takes_effect_later(self) -> bool {
        matches!(self, Self::AtPeriodEnd | Self::ToFree)
    }
}

/// A change as computed for one org state: what it is, what it costs, when it takes effect,
/// and the proration time its amounts were previewed at (and are charged at).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub from: PlanConfig,
    pub to: PlanConfig,
    pub amount_due_now: i64,
    pub recurring_amount: u64,
    pub effective_at: Option<i64>,
    pub proration_date: i64,
    /// Computed during a free trial: when it ends and the first charge comes (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_ends_at: Option<i64>,
    /// The tax in `amount_due_now` (Stripe Tax).
    #[serde(default)]
    pub tax_due_now: i64,
    /// What a discount took off before `amount_due_now`.
    #[serde(default)]
    pub discount_due_now: i64,
    /// The promotion code (`promo_...`) the change puts on the subscription, checked when the
    /// change was computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_code: Option<String>,
}

/// The consent an execution uses up: a chat token or a web approval (both hashed), and for an
/// approval the human who approved it; or a draw from a mandate (standing consent), which
/// `use_id` (the change's Stripe key) tells apart from other draws of the same mandate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IntentClaim {
    Token { token_hash: String },
    Approval { id_hash: String, by: String },
    Mandate { draw: Draw, granted_by: String, use_id: String },
}

/// A change being executed, recorded on the org in the same conditional write that takes the
/// org's change lock and claims the consent, before any Stripe write. Its `stripe_key` and
/// `change` (with the pinned `proration_date`) define the Stripe requests exactly, so whoever
/// completes it (the request itself, a retry, a poll, a webhook, the reconciler) replays the
/// same requests and gets Stripe's saved answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeIntent {
    pub change: Change,
    /// The Stripe idempotency key of the change's writes (each step adds its own suffix).
    pub stripe_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<IntentClaim>,
    /// The org's `change_generation` the change was computed from.
    pub generation: u64,
    pub started_at: i64,
    /// Who asked for the change (the agent, for a consented one): its activity record's actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<Actor>,
}

impl IntentClaim {
    /// The hash of the token or approval id: the consent, whoever uses it.
    pub fn consent_hash(&self) -> &str {
        match self {
            Self::Token { token_hash } => token_hash,
            Self::Approval { id_hash, .. } => id_hash,
            Self::Mandate { use_id, .. } => use_id,
        }
    }

    /// A mandate's draw is not used up by a first attempt: the same request's retry completes
    /// the change it recorded.
    pub fn is_standing(&self) -> bool {
        matches!(self, Self::Mandate { .. })
    }
}

impl ChangeIntent {
    /// Whether this intent uses up the consent with that hash.
    pub fn claims(&self, hash: &str) -> bool {
        self.claim.as_ref().is_some_and(|claim| claim.consent_hash() == hash)
    }

    /// The sort key of the stuck-intents index: oldest first, one per org.
    pub fn index_key(&self, org_id: &str) -> String {
        format!("{:012}#{org_id}", self.started_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(claim: Option<IntentClaim>) -> ChangeIntent {
        let pro = PlanConfig { plan: "pro".into(), interval: Some(Interval::Month), quantity: 1 };
        let change = Change {
            kind: ChangeKind::SwitchNow,
            from: pro.clone(),
            to: PlanConfig { plan: "scale".into(), ..pro },
            amount_due_now: 1500,
            recurring_amount: 4900,
            effective_at: Some(100),
            proration_date: 100,
            trial_ends_at: None,
            tax_due_now: 0,
            discount_due_now: 0,
            promotion_code: None,
        };
        ChangeIntent { change, stripe_key: "k".into(), claim, generation: 3, started_at: 100, requested_by: None }
    }

    #[test]
    fn an_intent_round_trips_with_its_pinned_proration_time() {
        let original = intent(Some(IntentClaim::Approval { id_hash: "h".into(), by: "owner".into() }));
        let text = serde_json::to_string(&original).unwrap();
        assert!(text.contains(r#""kind":"switch_now""#) && text.contains(r#""type":"approval""#), "{text}");
        assert_eq!(serde_json::from_str::<ChangeIntent>(&text).unwrap(), original);
    }

    #[test]
    fn an_intent_claims_only_its_own_consent() {
        assert!(intent(Some(IntentClaim::Token { token_hash: "t".into() })).claims("t"));
        assert!(!intent(Some(IntentClaim::Token { token_hash: "t".into() })).claims("u"));
        assert!(intent(Some(IntentClaim::Approval { id_hash: "a".into(), by: "o".into() })).claims("a"));
        assert!(!intent(None).claims("t"));
    }

    #[test]
    fn index_keys_sort_oldest_first() {
        let mut old = intent(None);
        old.started_at = 99;
        let new = intent(None);
        assert!(old.index_key("zz") < new.index_key("aa"));
    }

    #[test]
    fn executed_answers_name_what_happened() {
        let statuses: Vec<_> = [ChangeKind::SwitchNow, ChangeKind::AtPeriodEnd, ChangeKind::ToFree, ChangeKind::Resume]
            .map(ChangeKind::executed_status)
            .into();
        let names: Vec<_> = statuses.iter().map(|status| serde_json::to_value(status).unwrap()).collect();
        assert_eq!(names, ["switched", "change-scheduled", "downgrade-scheduled", "resumed"]);
        assert!(ChangeKind::ToFree.takes_effect_later() && !ChangeKind::SwitchNow.takes_effect_later());
    }
}
