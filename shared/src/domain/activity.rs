//! Activity records: what changed in an org's billing, who did it, when, and under which
//! consent. Each is written in the same DynamoDB write as the change it reports (a
//! transactional outbox), so there is one record per change, never one for a change that did
//! not happen. The publisher puts them on the event bus as `billing.*` events; the org's
//! activity history reads the same records.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::change::{ChangeKind, IntentClaim, PlanConfig};
use crate::domain::ids::random_hex;
use crate::domain::mandate::MandateLimits;
use crate::domain::org::{Org, SubscriptionStatus};
use crate::domain::principal::{Actor, PrincipalKind};

/// How long the history keeps a record unless the deployment says (`ACTIVITY_RETENTION_DAYS`).
pub const DEFAULT_ACTIVITY_RETENTION_DAYS: i64 = 400;

/// The `source` of every event on the bus.
pub const EVENT_SOURCE: &str = "stripe-billing-api";

/// The consent a change was made under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Consent {
    /// An agent's confirm token, confirmed in the chat: the token's SHA-256, never the token.
    ConfirmToken {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirm_token_hash: Option<String>,
    },
    /// A web approval (the SHA-256 of its id, as the table keeps it), approved by a human
    /// principal.
    WebApproval {
        approved_by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval_id: Option<String>,
    },
    /// A mandate the human (`approved_by`, a key id) granted the agent.
    Mandate { mandate_id: String, approved_by: String },
}

impl Consent {
    pub fn of(claim: &IntentClaim) -> Self {
        match claim {
            IntentClaim::Token { token_hash } => Self::ConfirmToken { confirm_token_hash: Some(token_hash.clone()) },
            IntentClaim::Approval { id_hash, by } => Self::WebApproval { approved_by: by.clone(), approval_id: Some(id_hash.clone()) },
            IntentClaim::Mandate { draw, granted_by, .. } => {
                Self::Mandate { mandate_id: draw.mandate_id.clone(), approved_by: granted_by.clone() }
            }
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
            // Ending a trial charges now as an upgrade does; it changes no plan, so what it
            // records is the status change.
            ChangeKind::SwitchNow | ChangeKind::EndTrial => Self::Upgrade,
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
    PlanChanged { kind: PlanChangeKind, from: PlanConfig, to: PlanConfig, effective_at: Option<i64> },
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
    ApprovalRequested { action: String, to: PlanConfig, expires_at: i64 },
    #[serde(rename = "billing.approval_decided")]
    ApprovalDecided { action: String, to: PlanConfig, decision: Decision },
    #[serde(rename = "billing.limit_increase_requested")]
    LimitIncreaseRequested { resource: String, plan: String, requested: Option<u64>, signal_id: String },
    /// The brake paused an AGENT key: `refusals` within one minute passed the org's threshold.
    #[serde(rename = "billing.agent_paused")]
    AgentPaused { key_id: String, principal_id: String, refusals: u64, max_refusals_per_minute: u32, paused_until: i64 },
    /// A human lifted an AGENT key's pause before it ended.
    #[serde(rename = "billing.agent_resumed")]
    AgentResumed { key_id: String, principal_id: String },
    /// A human gave an AGENT key a mandate (standing consent within `limits`).
    #[serde(rename = "billing.mandate_granted")]
    MandateGranted { mandate_id: String, agent_key_id: String, limits: MandateLimits, expires_at: i64 },
    #[serde(rename = "billing.mandate_revoked")]
    MandateRevoked { mandate_id: String, agent_key_id: String },
    /// An agent asked its human for a mandate (web approval).
    #[serde(rename = "billing.mandate_requested")]
    MandateRequested { agent_key_id: String, limits: MandateLimits, expires_at: i64 },
    #[serde(rename = "billing.mandate_request_decided")]
    MandateRequestDecided { agent_key_id: String, decision: Decision },
    /// Stripe says the org's trial ends soon (three days before): the first charge comes at
    /// `trial_ends_at`, or, without a card, the subscription ends then.
    #[serde(rename = "billing.trial_ending")]
    TrialEnding { subscription_id: String, trial_ends_at: i64 },
    // History only from here on (`on_bus`): the org's activity shows them; consumers of the
    // bus have what they act on in the events above (a paid Checkout shows as the plan or
    // status it changes, spends as `credits_low`).
    /// A subscription Checkout Session was created for the org.
    #[serde(rename = "billing.checkout_started")]
    CheckoutStarted { session_id: String, to: PlanConfig },
    /// Bought credits were granted: a paid credits Checkout Session's (`session_id`), or a
    /// top-up of the card on file's (`payment_intent_id`; an automatic one names the spend's
    /// record that set it off in `auto_top_up_of`).
    #[serde(rename = "billing.credits_granted")]
    CreditsGranted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_intent_id: Option<String>,
        credits: u64,
        balance: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        auto_top_up_of: Option<String>,
    },
    #[serde(rename = "billing.credits_spent")]
    CreditsSpent { entry_id: String, amount: u64, balance: i64 },
    /// An agent was given a confirm token to show its human (chat-mode consent).
    #[serde(rename = "billing.consent_requested")]
    ConsentRequested { action: String, to: PlanConfig, amount_due_now: i64, expires_at: i64 },
    #[serde(rename = "billing.api_key_issued")]
    ApiKeyIssued { key_id: String, principal_id: String, principal_kind: PrincipalKind },
    #[serde(rename = "billing.api_key_revoked")]
    ApiKeyRevoked { key_id: String, principal_id: String, principal_kind: PrincipalKind },
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
            Self::MandateGranted { .. } => "billing.mandate_granted",
            Self::MandateRevoked { .. } => "billing.mandate_revoked",
            Self::MandateRequested { .. } => "billing.mandate_requested",
            Self::MandateRequestDecided { .. } => "billing.mandate_request_decided",
            Self::TrialEnding { .. } => "billing.trial_ending",
            Self::CheckoutStarted { .. } => "billing.checkout_started",
            Self::CreditsGranted { .. } => "billing.credits_granted",
            Self::CreditsSpent { .. } => "billing.credits_spent",
            Self::ConsentRequested { .. } => "billing.consent_requested",
            Self::ApiKeyIssued { .. } => "billing.api_key_issued",
            Self::ApiKeyRevoked { .. } => "billing.api_key_revoked",
        }
    }

    /// Whether the publisher puts it on the bus; the others are the org's history only.
    pub fn on_bus(&self) -> bool {
        !matches!(
            self,
            Self::CheckoutStarted { .. }
                | Self::CreditsGranted { .. }
                | Self::CreditsSpent { .. }
                | Self::ConsentRequested { .. }
                | Self::ApiKeyIssued { .. }
                | Self::ApiKeyRevoked { .. }
        )
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
    /// The API request that made the change (none for the reconciler's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub event: Event,
}

impl Activity {
    /// A record with a fresh id: the clock's microseconds, then randomness, so that records of
    /// one org written in the same second (`now`) still sort in the order they were written.
    /// `request_id` is the API request being served, if any: the caller knows it, the rule
    /// does not.
    pub fn new(org_id: &str, now: i64, actor: Actor, event: Event, request_id: Option<String>) -> Self {
        let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
        let id = format!("act_{:014x}{}", micros & 0xff_ffff_ffff_ffff, random_hex(5));
        Self { id, org_id: org_id.to_string(), occurred_at: now, actor, consent: None, request_id, event }
    }

    pub fn under(mut self, consent: Option<Consent>) -> Self {
        self.consent = consent;
        self
    }
}

/// Who acted, as the history shows it: an API key (`kind` its principal kind, `name` its
/// principal id), or `stripe` (a webhook, an event the reconciler caught up on) or `operator`
/// (the service itself) with no key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ActorView {
    pub key_id: Option<String>,
    /// `HUMAN`, `AGENT`, `ADMIN`, `stripe` or `operator`.
    pub kind: String,
    pub name: String,
}

/// The consent that allowed an action, if one did: an agent's confirm token (its SHA-256,
/// never the token) or a web approval (the SHA-256 of its id) and the human who approved it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConsentView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_token_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mandate_id: Option<String>,
}

/// How much an action moved: `unit` is `credits`, or the catalog's currency (minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AmountView {
    pub value: i64,
    pub unit: String,
}

/// One record of `GET /billing/activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ActivityView {
    pub activity_id: String,
    /// Epoch seconds.
    pub at: i64,
    pub org_id: String,
    pub actor: ActorView,
    /// The record's type, as its event on the bus is named (`billing.plan_changed`...).
    pub action: String,
    /// What the action was done with, as the event's `data`.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    pub consent: ConsentView,
    /// The Stripe objects it touched (`subscription_id`, `session_id`).
    #[schema(value_type = Object)]
    pub stripe: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<AmountView>,
    /// What came of it: `executed`, `scheduled`, `approved`, `denied`, `refused`, ...
    pub outcome: String,
    pub request_id: Option<String>,
}

impl Event {
    /// What came of the action, in a word.
    fn outcome(&self) -> &'static str {
        match self {
            Self::PlanChanged { effective_at: Some(_), .. } => "scheduled",
            Self::PlanChanged { .. } | Self::SubscriptionStatusChanged { .. } => "executed",
            Self::PaymentFailed { .. } => "failed",
            Self::LimitReached { .. } => "refused",
            Self::UsageThresholdCrossed { .. } | Self::CreditsLow { .. } | Self::TrialEnding { .. } => "reported",
            Self::ApprovalRequested { .. } | Self::LimitIncreaseRequested { .. } | Self::ConsentRequested { .. } => "requested",
            Self::ApprovalDecided { decision: Decision::Approved, .. } => "approved",
            Self::ApprovalDecided { decision: Decision::Denied, .. } => "denied",
            Self::CheckoutStarted { .. } => "started",
            Self::CreditsGranted { .. } => "granted",
            Self::CreditsSpent { .. } => "spent",
            Self::ApiKeyIssued { .. } => "issued",
            Self::ApiKeyRevoked { .. } => "revoked",
            Self::AgentPaused { .. } => "paused",
            Self::AgentResumed { .. } => "resumed",
            Self::MandateGranted { .. } => "granted",
            Self::MandateRevoked { .. } => "revoked",
            Self::MandateRequested { .. } => "requested",
            Self::MandateRequestDecided { decision: Decision::Approved, .. } => "approved",
            Self::MandateRequestDecided { decision: Decision::Denied, .. } => "denied",
        }
    }

    fn stripe_ids(&self) -> serde_json::Map<String, serde_json::Value> {
        let (name, id) = match self {
            Self::SubscriptionStatusChanged { subscription_id: Some(id), .. }
            | Self::PaymentFailed { subscription_id: Some(id), .. }
            | Self::TrialEnding { subscription_id: id, .. } => ("subscription_id", id),
            Self::CheckoutStarted { session_id, .. } | Self::CreditsGranted { session_id: Some(session_id), .. } => {
                ("session_id", session_id)
            }
            Self::CreditsGranted { payment_intent_id: Some(id), .. } => ("payment_intent_id", id),
            _ => return serde_json::Map::new(),
        };
        serde_json::Map::from_iter([(name.to_string(), serde_json::Value::String(id.clone()))])
    }

    fn amount(&self, currency: &str) -> Option<AmountView> {
        let credits = |value: u64| AmountView { value: i64::try_from(value).unwrap_or(i64::MAX), unit: "credits".into() };
        match self {
            Self::CreditsGranted { credits: n, .. } | Self::CreditsSpent { amount: n, .. } => Some(credits(*n)),
            Self::ConsentRequested { amount_due_now, .. } => Some(AmountView { value: *amount_due_now, unit: currency.to_string() }),
            _ => None,
        }
    }
}

impl Activity {
    /// The record as the history shows it (`currency`: the catalog's, for amounts of money).
    pub fn view(&self, currency: &str) -> ActivityView {
        let actor = match &self.actor {
            Actor::Principal { principal_id, principal_kind, key_id } => {
                ActorView { key_id: key_id.clone(), kind: principal_kind.as_str().to_string(), name: principal_id.clone() }
            }
            Actor::Stripe => ActorView { key_id: None, kind: "stripe".into(), name: "Stripe".into() },
            Actor::System => ActorView { key_id: None, kind: "operator".into(), name: "billing service".into() },
        };
        let consent = match &self.consent {
            None => ConsentView::default(),
            Some(Consent::ConfirmToken { confirm_token_hash }) => {
                ConsentView { confirm_token_hash: confirm_token_hash.clone(), ..ConsentView::default() }
            }
            Some(Consent::WebApproval { approved_by, approval_id }) => {
                ConsentView { approval_id: approval_id.clone(), approved_by: Some(approved_by.clone()), ..ConsentView::default() }
            }
            Some(Consent::Mandate { mandate_id, approved_by }) => {
                ConsentView { mandate_id: Some(mandate_id.clone()), approved_by: Some(approved_by.clone()), ..ConsentView::default() }
            }
        };
        let params = serde_json::to_value(&self.event).ok().and_then(|mut v| v.get_mut("data").map(serde_json::Value::take));
        ActivityView {
            activity_id: self.id.clone(),
            at: self.occurred_at,
            org_id: self.org_id.clone(),
            actor,
            action: self.event.type_name().to_string(),
            params: params.unwrap_or_default(),
            consent,
            stripe: self.event.stripe_ids(),
            amount: self.event.amount(currency),
            outcome: self.event.outcome().to_string(),
            request_id: self.request_id.clone(),
        }
    }
}

/// What changed between the org as read and as about to be written, by Stripe's hand or a
/// plan change's: its configuration (or a scheduled change of it), its subscription status,
/// its credits going below `credits_low`.
pub fn org_changes(before: &Org, after: &Org, kind: PlanChangeKind, credits_low: i64) -> Vec<Event> {
    let mut events = Vec::new();
    let (from, to) = (PlanConfig::of(before), PlanConfig::of(after));
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
            (Some(change), _) => PlanConfig {
                plan: change.plan.clone(),
                interval: change.interval.or(to.interval),
                quantity: change.quantity.unwrap_or(to.quantity),
            },
            (None, true) => PlanConfig::free(),
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
