//! How an org's billing state follows Stripe's subscription: the pure transition the webhook
//! sync and the success-page sync both apply.

use crate::domain::catalog::{Catalog, FREE_PLAN};
use crate::domain::org::{Card, Org, ScheduledChange, SubscriptionStatus};
use crate::domain::promotion::Discount;

/// A subscription as Stripe holds it now: what the org's state is synced from.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionState {
    pub id: String,
    pub customer_id: String,
    pub status: SubscriptionStatus,
    /// The subscription's one item, which plan changes replace.
    pub item_id: Option<String>,
    pub price_id: Option<String>,
    pub quantity: u32,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    /// When its trial ends (epoch seconds), if it has one.
    pub trial_end: Option<i64>,
    /// Its (first) discount, if any.
    pub discount: Option<Discount>,
    /// The subscription schedule managing it, if any.
    pub schedule_id: Option<String>,
    /// The schedule's phase that starts when the current period ends: a scheduled change.
    pub next_phase: Option<NextPhase>,
    pub card: Option<Card>,
}

/// What a subscription schedule changes the subscription to, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextPhase {
    pub price_id: String,
    pub quantity: u32,
    pub starts_at: i64,
}

/// Writes Stripe's current subscription state onto the org; false (and nothing changed) for an
/// ended subscription that is not the org's current one, so a late event or an old success page
/// of a replaced subscription never undoes the live one.
pub fn apply_subscription(org: &mut Org, sub: &SubscriptionState, catalog: &Catalog, now: i64) -> bool {
    let replaced = org.stripe_subscription_id.as_ref().is_some_and(|current| *current != sub.id);
    if replaced && !sub.status.is_live() {
        return false;
    }
    org.stripe_subscription_id = Some(sub.id.clone());
    org.status = sub.status;
    // One trial per org, ever: any subscription, trial or paid, spends it.
    org.trial_spent = true;
    org.trial_ends_at = sub.trial_end.filter(|_| sub.status == SubscriptionStatus::Trialing);
    org.discount = sub.discount.clone();
    match sub.price_id.as_deref().and_then(|price| catalog.plan_for_price(price)) {
        Some((plan, interval)) => {
            org.plan = plan.id.clone();
            org.interval = Some(interval);
        }
        None => {
            tracing::warn!(price = sub.price_id.as_deref(), subscription = %sub.id, "subscription price is not in the catalog; plan left as it was")
        }
    }
    org.quantity = sub.quantity;
    org.current_period_end = sub.current_period_end;
    org.cancel_at_period_end = sub.cancel_at_period_end;
    org.scheduled_change = match (sub.cancel_at_period_end, sub.current_period_end) {
        (true, Some(at)) => Some(ScheduledChange { plan: FREE_PLAN.to_string(), interval: None, quantity: None, effective_at: at }),
        _ => scheduled_by_phase(sub, catalog),
    };
    org.past_due_since = match sub.status {
        SubscriptionStatus::PastDue => Some(org.past_due_since.unwrap_or(now)),
        _ => None,
    };
    if sub.card.is_some() {
        org.card = sub.card.clone();
    }
    if sub.status.is_live() {
        org.pending_checkout = None;
    }
    if sub.status == SubscriptionStatus::Active {
        org.last_payment_error = None;
    }
    if matches!(sub.status, SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired) {
        org.plan = FREE_PLAN.to_string();
        org.interval = None;
        org.quantity = 1;
        org.stripe_subscription_id = None;
        org.scheduled_change = None;
    }
    true
}

/// The change a schedule's next phase makes, when it changes price or quantity.
fn scheduled_by_phase(sub: &SubscriptionState, catalog: &Catalog) -> Option<ScheduledChange> {
    let phase = sub.next_phase.as_ref()?;
    if Some(phase.price_id.as_str()) == sub.price_id.as_deref() && phase.quantity == sub.quantity {
        return None;
    }
    let (plan, interval) = catalog.plan_for_price(&phase.price_id)?;
    Some(ScheduledChange { plan: plan.id.clone(), interval: Some(interval), quantity: Some(phase.quantity), effective_at: phase.starts_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::Interval;

    fn sub(status: SubscriptionStatus, price: &str) -> SubscriptionState {
        SubscriptionState {
            id: "sub_1".into(),
            customer_id: "cus_1".into(),
            status,
            item_id: Some("si_1".into()),
            price_id: Some(price.into()),
            quantity: 3,
            current_period_start: Some(1_000),
            current_period_end: Some(2_000),
            cancel_at_period_end: false,
            trial_end: None,
            discount: None,
            schedule_id: None,
            next_phase: None,
            card: Some(Card { brand: "visa".into(), last4: "4242".into(), exp_month: 12, exp_year: 2034 }),
        }
    }

    #[test]
    fn active_subscription_sets_plan_interval_quantity_card_and_clears_checkout() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = Org::new("acme", "Acme", 0);
        org.last_payment_error = Some("old".into());
        apply_subscription(&mut org, &sub(SubscriptionStatus::Active, "price_scale_annual"), &catalog, 100);
        assert_eq!((org.plan.as_str(), org.interval, org.quantity), ("scale", Some(Interval::Year), 3));
        assert_eq!(org.status, SubscriptionStatus::Active);
        assert_eq!(org.card.as_ref().unwrap().last4, "4242");
        assert_eq!(org.last_payment_error, None);
        assert_eq!(org.current_period_end, Some(2_000));
    }

    #[test]
    fn cancel_at_period_end_schedules_free_and_cancel_falls_back_to_free() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = Org::new("acme", "Acme", 0);
        let mut state = sub(SubscriptionStatus::Active, "price_pro_monthly");
        state.cancel_at_period_end = true;
        apply_subscription(&mut org, &state, &catalog, 100);
        assert_eq!(
            org.scheduled_change,
            Some(ScheduledChange { plan: "free".into(), interval: None, quantity: None, effective_at: 2_000 })
        );
        apply_subscription(&mut org, &sub(SubscriptionStatus::Canceled, "price_pro_monthly"), &catalog, 200);
        assert_eq!((org.plan.as_str(), org.interval, org.scheduled_change.as_ref()), ("free", None, None));
    }

    #[test]
    fn an_ended_subscription_never_replaces_the_current_one() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = Org::new("acme", "Acme", 0);
        let mut current = sub(SubscriptionStatus::Active, "price_pro_monthly");
        current.id = "sub_current".into();
        assert!(apply_subscription(&mut org, &current, &catalog, 100));
        let before = org.clone();
        let old = sub(SubscriptionStatus::Canceled, "price_scale_monthly");
        assert!(!apply_subscription(&mut org, &old, &catalog, 200));
        assert_eq!(org, before);
        let mut newer = sub(SubscriptionStatus::Active, "price_scale_monthly");
        newer.id = "sub_newer".into();
        assert!(apply_subscription(&mut org, &newer, &catalog, 300), "a live subscription takes over");
        assert_eq!(org.plan, "scale");
    }

    #[test]
    fn a_schedules_next_phase_is_the_scheduled_change_until_it_starts() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = Org::new("acme", "Acme", 0);
        let mut state = sub(SubscriptionStatus::Active, "price_scale_monthly");
        state.next_phase = Some(NextPhase { price_id: "price_pro_monthly".into(), quantity: 1, starts_at: 2_000 });
        apply_subscription(&mut org, &state, &catalog, 100);
        assert_eq!(
            org.scheduled_change,
            Some(ScheduledChange { plan: "pro".into(), interval: Some(Interval::Month), quantity: Some(1), effective_at: 2_000 })
        );
        state.price_id = Some("price_pro_monthly".into());
        state.quantity = 1;
        apply_subscription(&mut org, &state, &catalog, 200);
        assert_eq!(org.scheduled_change, None, "a phase that is already current is no change");
    }

    #[test]
    fn past_due_keeps_its_first_date_and_unknown_prices_keep_the_plan() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = Org::new("acme", "Acme", 0);
        apply_subscription(&mut org, &sub(SubscriptionStatus::PastDue, "price_pro_monthly"), &catalog, 100);
        apply_subscription(&mut org, &sub(SubscriptionStatus::PastDue, "price_pro_monthly"), &catalog, 500);
        assert_eq!(org.past_due_since, Some(100));
        apply_subscription(&mut org, &sub(SubscriptionStatus::Active, "price_unknown"), &catalog, 600);
        assert_eq!((org.plan.as_str(), org.past_due_since), ("pro", None));
    }
}
