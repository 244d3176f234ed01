//! Drift: where an org's stored billing state differs from what Stripe's subscription makes it.
//! Pure: the reconciler reads both and reports what this finds.

use serde::Serialize;

use crate::domain::catalog::Catalog;
use crate::domain::org::{Org, SubscriptionStatus};
use crate::domain::subscription::{SubscriptionState, apply_subscription};

/// One field of one org that is not what Stripe says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub org_id: String,
    /// `plan`, `status`, `quantity` or `subscription_id`.
    pub field: &'static str,
    pub stored: String,
    pub stripe: String,
}

fn status_text(status: SubscriptionStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The fields whose stored value differs from what syncing `sub` (the org's subscription as
/// Stripe holds it now) would write; none when `sub` is an ended subscription the sync would
/// not apply.
pub fn subscription_drift(org: &Org, sub: &SubscriptionState, catalog: &Catalog, now: i64) -> Vec<Drift> {
    let mut synced = org.clone();
    if !apply_subscription(&mut synced, sub, catalog, now) {
        return Vec::new();
    }
    let subscription = |org: &Org| org.stripe_subscription_id.clone().unwrap_or_default();
    [
        ("plan", org.plan.clone(), synced.plan.clone()),
        ("status", status_text(org.status), status_text(synced.status)),
        ("quantity", org.quantity.to_string(), synced.quantity.to_string()),
        ("subscription_id", subscription(org), subscription(&synced)),
    ]
    .into_iter()
    .filter(|(_, stored, stripe)| stored != stripe)
    .map(|(field, stored, stripe)| Drift { org_id: org.org_id.clone(), field, stored, stripe })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribed(catalog: &Catalog) -> (Org, SubscriptionState) {
        let price =
            catalog.plans.iter().find_map(|p| p.prices.iter().next()).map(|(_, price)| price.price_id.clone()).expect("a paid plan");
        let sub = SubscriptionState {
            id: "sub_1".into(),
            customer_id: "cus_1".into(),
            status: SubscriptionStatus::Active,
            item_id: Some("si_1".into()),
            price_id: Some(price),
            quantity: 2,
            current_period_start: Some(1_000),
            current_period_end: Some(2_000),
            cancel_at_period_end: false,
            trial_end: None,
            discount: None,
            schedule_id: None,
            next_phase: None,
            card: None,
        };
        let mut org = Org::new("acme", "Acme", 1_000);
        assert!(apply_subscription(&mut org, &sub, catalog, 1_500));
        (org, sub)
    }

    #[test]
    fn an_org_in_sync_has_no_drift_and_each_changed_field_is_named() {
        let catalog = Catalog::built_in().unwrap();
        let (org, sub) = subscribed(&catalog);
        assert!(subscription_drift(&org, &sub, &catalog, 1_600).is_empty());

        let mut stale = org.clone();
        stale.plan = "free".into();
        stale.quantity = 1;
        stale.status = SubscriptionStatus::PastDue;
        let drift = subscription_drift(&stale, &sub, &catalog, 1_600);
        let fields: Vec<(&str, &str, &str)> = drift.iter().map(|d| (d.field, d.stored.as_str(), d.stripe.as_str())).collect();
        assert_eq!(fields, [("plan", "free", org.plan.as_str()), ("status", "past_due", "active"), ("quantity", "1", "2")]);
        assert!(drift.iter().all(|d| d.org_id == "acme"));
    }
}
