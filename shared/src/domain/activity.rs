//! Activity records: what changed in an org's billing, who did it, when, and under which
//! consent. Each is written in the same DynamoDB write as the change it reports (a
//! transactional outbox), so there is one record per change, never one for a change that did
//! not happen. The publisher puts them on the event bus as `billing.*` events; the org's
//! activity history reads the same records.

use serde::{Deserialize, Serialize};

use crate::domain::api_key::random_hex;
use crate::domain::change::{ChangeKind, Config, IntentClaim};
use crate::domain::org::{Org, Principal, PrincipalKind, SubscriptionStatus};

/// The `source` of every event on the bus.
pub const EVENT_SOURCE: &str = "stripe-billing-api";

/// Who made a change happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// An API key of the org (its principal id, never the key).
    Principal { principal_id: String, principal_kind: PrincipalKind },
    /// Stripe, through a webhook or an event the reconciler caught up on.
    Stripe,
    /// The service itself (the reconciler completing a change is still the requester's).
    System,
}

impl Actor {
    pub fn of(principal: &Principal) -> Self {
        Self::Principal { principal_id: principal.principal_id.clone(), principal_kind: principal.kind }
    }
}

/// The consent a change was made under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Consent {
    /// An agent's confirm token, confirmed in the chat.
    ConfirmToken,
    /// A web approval, approved by a human principal.
    WebApproval { approved_by: String },
}

impl Consent {
    pub fn of(claim: &IntentClaim) -> Self {
        match claim {
            IntentClaim::Token { .. } => Self::ConfirmToken,
            IntentClaim::Approval { by, .. } => Self::WebApproval { approved_by: by.clone() },
        }
    }
}

/// How a plan changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanChangeKind {
    /// Moved now to a dearer configuration (`switch_now`).
    Upgrade,
    /// Scheduled for the period end, or a downgrade Stripe applied.
    Downgrade,
    /// A scheduled downgrade or cancellation was called off.
    Resume,
    /// Stripe's side changed it (Checkout, the Customer Portal, a deletion).
    Stripe,
}

impl PlanChangeKind {
    pub fn of(kind: ChangeKind) -> Self {
        match kind {
            ChangeKind::SwitchNow => Self::Upgrade,
            ChangeKind::AtPeriodEnd | ChangeKind::ToFree => Self::Downgrade,
            ChangeKind::Resume => Self::Resume,
        }
    }
}

/// What happened; its `type` is the event's `detail-type` on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    /// The org's plan, interval or quantity changed, or a change of them was scheduled or
    /// called off (`effective_at` set for a change at the period end).
    #[serde(rename = "billing.plan_changed")]
    PlanChanged { kind: PlanChangeKind, from: Config, to: Config, effective_at: Option<i64> },
    #[serde(rename = "billing.subscription_status_changed")]
    SubscriptionStatusChanged { from: SubscriptionStatus, to: SubscriptionStatus, subscription_id: Option<String> },
    #[serde(rename = "billing.payment_failed")]
    PaymentFailed { subscription_id: Option<String>, message: String },
    /// A request was refused at a plan cap (at most one record per org, resource and minute).
    #[serde(rename = "billing.limit_reached")]
    LimitReached { resource: String, plan: String, active: u64, cap: u64 },
    /// Usage of a resource reached `percent` (80 or 100) of its cap, once per period.
    #[serde(rename = "billing.usage_threshold_crossed")]
    UsageThresholdCrossed { resource: String, plan: String, percent: u8, used: u64, cap: u64 },
    /// The credits balance went below the configured level.
    #[serde(rename = "billing.credits_low")]
    CreditsLow { balance: i64, level: i64 },
    #[serde(rename = "billing.approval_requested")]
    ApprovalRequested { action: String, to: Config, expires_at: i64 },
    #[serde(rename = "billing.approval_decided")]
    ApprovalDecided { action: String, to: Config, decision: Decision },
    #[serde(rename = "billing.limit_increase_requested")]
    LimitIncreaseRequested { resource: String, plan: String, requested: Option<u64>, signal_id: String },
    /// The brake paused an AGENT key: `refusals` within one minute passed the org's threshold.
    #[serde(rename = "billing.agent_paused")]
    AgentPaused { key_id: String, principal_id: String, refusals: u64, max_refusals_per_minute: u32, paused_until: i64 },
    /// A human lifted an AGENT key's pause before it ended.
    #[serde(rename = "billing.agent_resumed")]
    AgentResumed { key_id: String, principal_id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Denied,
}

impl Event {
    /// The event's type, as on the bus.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::PlanChanged { .. } => "billing.plan_changed",
            Self::SubscriptionStatusChanged { .. } => "billing.subscription_status_changed",
            Self::PaymentFailed { .. } => "billing.payment_failed",
            Self::LimitReached { .. } => "billing.limit_reached",
            Self::UsageThresholdCrossed { .. } => "billing.usage_threshold_crossed",
            Self::CreditsLow { .. } => "billing.credits_low",
            Self::ApprovalRequested { .. } => "billing.approval_requested",
            Self::ApprovalDecided { .. } => "billing.approval_decided",
            Self::LimitIncreaseRequested { .. } => "billing.limit_increase_requested",
            Self::AgentPaused { .. } => "billing.agent_paused",
            Self::AgentResumed { .. } => "billing.agent_resumed",
        }
    }
}

/// One record: an event of one org, with who and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// `act_` and 24 hex digits; consumers dedupe deliveries by it.
    pub id: String,
    pub org_id: String,
    /// Epoch seconds: records of one org sort by it.
    pub occurred_at: i64,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
    #[serde(flatten)]
    pub event: Event,
}

impl Activity {
    /// A record with a fresh id: the clock's microseconds, then randomness, so that records of
    /// one org written in the same second (`now`) still sort in the order they were written.
    pub fn new(org_id: &str, now: i64, actor: Actor, event: Event) -> Self {
        let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
        let id = format!("act_{:014x}{}", micros & 0xff_ffff_ffff_ffff, random_hex(5));
        Self { id, org_id: org_id.to_string(), occurred_at: now, actor, consent: None, event }
    }

    pub fn under(mut self, consent: Option<Consent>) -> Self {
        self.consent = consent;
        self
    }
}

/// What changed between the org as read and as about to be written, by Stripe's hand or a
/// plan change's: its configuration (or a scheduled change of it), its subscription status,
/// its credits going below `credits_low`.
pub fn org_changes(before: &Org, after: &Org, kind: PlanChangeKind, credits_low: i64) -> Vec<Event> {
    let mut events = Vec::new();
    let (from, to) = (Config::of(before), Config::of(after));
    let scheduled = |org: &Org| org.scheduled_change.clone().map(|s| (s.plan, s.effective_at));
    let cancel = |org: &Org| org.cancel_at_period_end;
    if from != to {
        events.push(Event::PlanChanged { kind, from, to, effective_at: None });
    } else if scheduled(before) != scheduled(after) || cancel(before) != cancel(after) {
        let effective_at = after
            .scheduled_change
            .as_ref()
            .map(|s| s.effective_at)
            .or(after.cancel_at_period_end.then_some(after.current_period_end).flatten());
        let to = match (&after.scheduled_change, after.cancel_at_period_end) {
            (Some(change), _) => Config {
                plan: change.plan.clone(),
                interval: change.interval.or(to.interval),
                quantity: change.quantity.unwrap_or(to.quantity),
            },
            (None, true) => Config::free(),
            (None, false) => to,
        };
        events.push(Event::PlanChanged { kind, from, to, effective_at });
    }
    if before.status != after.status {
        events.push(Event::SubscriptionStatusChanged {
            from: before.status,
            to: after.status,
            subscription_id: after.stripe_subscription_id.clone().or_else(|| before.stripe_subscription_id.clone()),
        });
    }
    events.extend(credits_went_low(before.credits, after.credits, credits_low));
    events
}

/// `billing.credits_low` when a balance goes from `level` or more to below it.
pub fn credits_went_low(before: i64, after: i64, level: i64) -> Option<Event> {
    (before >= level && after < level).then_some(Event::CreditsLow { balance: after, level })
}

/// The usage thresholds (percent of the cap) a report of crossing is sent for.
pub const USAGE_THRESHOLDS: [u8; 2] = [80, 100];

/// The thresholds that usage going from `before` to `after` crossed upwards (none when
/// unlimited).
pub fn thresholds_crossed(before: u64, after: u64, cap: Option<u64>) -> Vec<u8> {
    let Some(cap) = cap.filter(|cap| *cap > 0) else { return Vec::new() };
    let reached = |used: u64, percent: u8| u128::from(used) * 100 >= u128::from(cap) * u128::from(percent);
    USAGE_THRESHOLDS.into_iter().filter(|&p| !reached(before, p) && reached(after, p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::Interval;
    use crate::domain::org::ScheduledChange;

    fn org() -> Org {
        let mut org = Org::new("acme", "Acme", 0);
        org.plan = "pro".into();
        org.interval = Some(Interval::Month);
        org.status = SubscriptionStatus::Active;
        org.credits = 150;
        org.current_period_end = Some(1_000);
        org
    }

    #[test]
    fn thresholds_are_crossed_upwards_only_once_each() {
        assert_eq!(thresholds_crossed(7, 8, Some(10)), vec![80]);
        assert_eq!(thresholds_crossed(7, 10, Some(10)), vec![80, 100]);
        assert_eq!(thresholds_crossed(8, 9, Some(10)), Vec::<u8>::new());
        assert_eq!(thresholds_crossed(9, 8, Some(10)), Vec::<u8>::new());
        assert_eq!(thresholds_crossed(0, 1, Some(1)), vec![80, 100]);
        assert_eq!(thresholds_crossed(0, 5, None), Vec::<u8>::new());
        assert_eq!(thresholds_crossed(0, 5, Some(0)), Vec::<u8>::new());
    }

    #[test]
    fn credits_low_is_reported_when_the_balance_goes_below_the_level() {
        assert!(credits_went_low(100, 99, 100).is_some());
        assert!(credits_went_low(99, 50, 100).is_none());
        assert!(credits_went_low(150, 100, 100).is_none());
    }

    #[test]
    fn an_org_change_reports_plan_status_and_schedule() {
        let before = org();
        let mut after = before.clone();
        assert!(org_changes(&before, &after, PlanChangeKind::Stripe, 100).is_empty());
        after.plan = "team".into();
        after.status = SubscriptionStatus::PastDue;
        after.credits = 10;
        let events = org_changes(&before, &after, PlanChangeKind::Upgrade, 100);
        let types: Vec<&str> = events.iter().map(Event::type_name).collect();
        assert_eq!(types, ["billing.plan_changed", "billing.subscription_status_changed", "billing.credits_low"]);
        let mut scheduled = before.clone();
        scheduled.scheduled_change = Some(ScheduledChange { plan: "starter".into(), interval: None, quantity: None, effective_at: 1_000 });
        match &org_changes(&before, &scheduled, PlanChangeKind::Downgrade, 100)[..] {
            [Event::PlanChanged { kind: PlanChangeKind::Downgrade, to, effective_at: Some(1_000), .. }] => assert_eq!(to.plan, "starter"),
            other => panic!("{other:?}"),
        }
        let mut canceling = before.clone();
        canceling.cancel_at_period_end = true;
        match &org_changes(&before, &canceling, PlanChangeKind::Downgrade, 100)[..] {
            [Event::PlanChanged { to, effective_at: Some(1_000), .. }] => assert_eq!(to.plan, "free"),
            other => panic!("{other:?}"),
        }
        match &org_changes(&canceling, &before, PlanChangeKind::Resume, 100)[..] {
            [Event::PlanChanged { kind: PlanChangeKind::Resume, effective_at: None, .. }] => {}
            other => panic!("{other:?}"),
        }
    }
}
