//! An org's billing state as the table holds it, and the principals that act for an org.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::catalog::{FREE_PLAN, Interval, Resource};
use crate::domain::change::{ChangeIntent, PlanConfig};
use crate::domain::promotion::Discount;

/// Stripe's subscription statuses, plus `none` for an org that never subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    #[default]
    None,
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

impl SubscriptionStatus {
    /// A subscription that blocks a second Checkout.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Active | Self::Trialing | Self::PastDue | Self::Incomplete)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Card {
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

/// A plan change that takes effect at `effective_at` (epoch seconds), e.g. a downgrade at period end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScheduledChange {
    pub plan: String,
    /// For a paid plan: the interval and quantity it moves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    pub effective_at: i64,
}

/// A subscription Checkout Session handed out and not yet completed or expired. While it is
/// open, the same request gets the same session and a different one gets 409 (two tabs racing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCheckout {
    pub session_id: String,
    pub url: String,
    /// The idempotency fingerprint of the request that opened it.
    pub fingerprint: String,
    pub expires_at: i64,
    /// The days of trial the session's subscription starts with (0: none).
    #[serde(default)]
    pub trial_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Org {
    pub org_id: String,
    pub name: String,
    pub plan: String,
    #[serde(default)]
    pub status: SubscriptionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_change: Option<ScheduledChange>,
    /// Epoch seconds when the subscription went past due: the start of the grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub past_due_since: Option<i64>,
    #[serde(default)]
    pub design_partner: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_subscription_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_payment_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_checkout: Option<PendingCheckout>,
    /// The org has had a subscription (a trial or paid): it gets no more trials.
    #[serde(default)]
    pub trial_spent: bool,
    /// While `trialing`: when the trial ends and the first charge comes (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_ends_at: Option<i64>,
    /// The discount on the subscription (a promotion code's coupon), as Stripe shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Discount>,
    #[serde(default)]
    pub credits: i64,
    /// The org has bought credits: with a subscription, what makes it no longer a first-time
    /// customer for a promotion code.
    #[serde(default)]
    pub credits_bought: bool,
    /// The plan change executing at Stripe, recorded before its first Stripe write: one change
    /// at a time per org, and whoever finds it completes it by replaying it (`billing::plan_change`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_intent: Option<ChangeIntent>,
    /// Bumped by every executed plan change: consents computed for an older one are void.
    #[serde(default)]
    pub change_generation: u64,
    /// What the org holds of each gated resource right now (`api_calls`: in the current usage
    /// period). Written only by usage counting (`store::usage`), never by a whole-org write.
    #[serde(default)]
    pub usage: BTreeMap<Resource, u64>,
    /// When the current `api_calls` period ends; usage counting owns it, like `usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_period_end: Option<i64>,
    /// Caps granted to this org by an admin (`billing-admin set-cap-override`): each replaces
    /// the plan's cap of its resource, whatever the plan (`None` is unlimited).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cap_overrides: BTreeMap<Resource, Option<u64>>,
    /// The fingerprint of the rules the item's materialised caps were computed with (see
    /// `store::caps`). Read only: the store writes it beside the org, never from this field.
    #[serde(default, skip_serializing)]
    pub caps_rules: Option<String>,
    /// Optimistic concurrency: every read-modify-write expects the version it read.
    #[serde(default)]
    pub version: u64,
    pub created_at: i64,
}

impl PlanConfig {
    /// The configuration the org is on.
    pub fn of(org: &Org) -> Self {
        Self { plan: org.plan.clone(), interval: org.interval, quantity: org.quantity }
    }
}

impl Org {
    /// A new org on the free plan.
    pub fn new(org_id: &str, name: &str, now: i64) -> Self {
        Self {
            org_id: org_id.to_string(),
            name: name.to_string(),
            plan: FREE_PLAN.to_string(),
            status: SubscriptionStatus::None,
            interval: None,
            quantity: 1,
            current_period_end: None,
            cancel_at_period_end: false,
            scheduled_change: None,
            past_due_since: None,
            design_partner: false,
            stripe_customer_id: None,
            stripe_subscription_id: None,
            card: None,
            last_payment_error: None,
            pending_checkout: None,
            trial_spent: false,
            trial_ends_at: None,
            discount: None,
            credits: 0,
            credits_bought: false,
            change_intent: None,
            change_generation: 0,
            usage: BTreeMap::new(),
            usage_period_end: Some(crate::domain::calendar::next_month_start(now)),
            cap_overrides: BTreeMap::new(),
            caps_rules: None,
            version: 0,
            created_at: now,
        }
    }

    /// Whether the org has had a subscription or bought credits: a first-time-only promotion
    /// code is not for it (Stripe's "customers without any successful payments").
    pub fn is_returning_customer(&self) -> bool {
        self.trial_spent || self.credits_bought
    }

    /// What the org holds of `resource` as stored (for `api_calls`, possibly of a period that
    /// has ended: see `entitlements::active`).
    pub fn usage_of(&self, resource: Resource) -> u64 {
        self.usage.get(&resource).copied().unwrap_or(0)
    }
}

/// Ids are caller-chosen at org creation, so they are restricted to a safe alphabet.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_statuses_block_a_second_checkout() {
        use SubscriptionStatus::*;
        let live: Vec<_> = [None, Incomplete, IncompleteExpired, Trialing, Active, PastDue, Canceled, Unpaid, Paused]
            .into_iter()
            .filter(|s| s.is_live())
            .collect();
        assert_eq!(live, [Incomplete, Trialing, Active, PastDue]);
    }

    #[test]
    fn ids_are_restricted_to_a_safe_alphabet() {
        assert!(valid_id("acme-co_2"));
        assert!(!valid_id(""));
        assert!(!valid_id("Acme"));
        assert!(!valid_id("a#b"));
        assert!(!valid_id(&"a".repeat(65)));
    }
}
