//! Keeps each org's billing state true to Stripe.
//!
//! Ordering: a subscription is never written from an event's snapshot. Its current state is
//! re-read from Stripe after reading the org, and written conditionally on the org version
//! read; a writer that lost the race re-reads both. So the last write always carries a Stripe
//! read newer than every earlier write's, whatever order events arrive in.
//!
//! Once: the effect is written in one transaction with the event id (and, for credits, the
//! Checkout Session id), so a redelivery or a concurrent instance changes nothing.

use crate::App;
use crate::catalog::{Catalog, FREE_PLAN};
use crate::error::{ApiError, ErrorKind};
use crate::org::{Org, Principal, ScheduledChange, SubscriptionStatus};
use crate::store::{Applied, OnceMarkers};
use crate::stripe::SubscriptionState;
use crate::webhook::{Effect, VerifiedEvent, effect};

const MAX_RACES: usize = 5;

/// What a delivery came to; all of them are answered 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Duplicate,
    Ignored(String),
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
    match sub.price_id.as_deref().and_then(|price| catalog.plan_for_price(price)) {
        Some((plan, interval)) => {
            org.plan = plan.id.clone();
            org.interval = Some(interval);
        }
        None => {
            tracing::warn!(price = ?sub.price_id, subscription = %sub.id, "subscription price is not in the catalog; plan left as it was")
        }
    }
    org.quantity = sub.quantity;
    org.current_period_end = sub.current_period_end;
    org.cancel_at_period_end = sub.cancel_at_period_end;
    org.scheduled_change = match (sub.cancel_at_period_end, sub.current_period_end) {
        (true, Some(at)) => Some(ScheduledChange { plan: FREE_PLAN.to_string(), effective_at: at }),
        _ => None,
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

/// Applies one verified webhook event.
pub async fn handle_event(app: &App, event: &VerifiedEvent, now: i64) -> Result<Outcome, ApiError> {
    if app.store.event_seen(&event.id).await? {
        return Ok(Outcome::Duplicate);
    }
    let effect = effect(event);
    let customer_id = match &effect {
        Effect::Ignore(reason) => return Ok(Outcome::Ignored(reason.clone())),
        Effect::SyncSubscription { customer_id, .. }
        | Effect::GrantCredits { customer_id, .. }
        | Effect::PaymentFailed { customer_id, .. }
        | Effect::CustomerDeleted { customer_id } => customer_id,
    };
    let Some(org_id) = org_of_customer(app, event, customer_id).await? else {
        return Ok(Outcome::Ignored(format!("customer {customer_id} belongs to no org")));
    };
    apply(app, &org_id, &effect, Some(&event.id), now).await
}

/// The org of a Stripe customer: the customer index, or, while that eventually consistent index
/// lags behind a just-recorded customer, the org the object names (Checkout's
/// `client_reference_id`, our `metadata.org_id`) if that org's customer it really is.
async fn org_of_customer(app: &App, event: &VerifiedEvent, customer_id: &str) -> Result<Option<String>, ApiError> {
    if let Some(org_id) = app.store.org_id_for_customer(customer_id).await? {
        return Ok(Some(org_id));
    }
    let named = event.object["client_reference_id"].as_str().or(event.object["metadata"]["org_id"].as_str());
    let Some(org_id) = named else { return Ok(None) };
    let org = app.store.get_org(org_id).await?;
    Ok(org.filter(|org| org.stripe_customer_id.as_deref() == Some(customer_id)).map(|org| org.org_id))
}

/// Applies `effect` to the org once (per event id and per credits session), retrying lost races.
pub async fn apply(app: &App, org_id: &str, effect: &Effect, event_id: Option<&str>, now: i64) -> Result<Outcome, ApiError> {
    for _ in 0..MAX_RACES {
        let mut org = app.store.get_org(org_id).await?.ok_or_else(|| ApiError::not_found(format!("org {org_id} is gone")))?;
        let mut markers = OnceMarkers { event_id, credits_session_id: None };
        match effect {
            Effect::SyncSubscription { subscription_id, .. } => {
                let sub = app.stripe()?.retrieve_subscription(subscription_id).await?;
                if org.stripe_customer_id.as_deref() != Some(sub.customer_id.as_str()) {
                    return Ok(Outcome::Ignored(format!("subscription {subscription_id} is not this org's customer's")));
                }
                if !apply_subscription(&mut org, &sub, &app.config.catalog, now) {
                    return Ok(Outcome::Ignored(format!("subscription {subscription_id} ended and was replaced")));
                }
            }
            Effect::GrantCredits { session_id, credits, .. } => {
                org.credits += i64::try_from(*credits).unwrap_or(i64::MAX);
                markers.credits_session_id = Some(session_id);
            }
            Effect::PaymentFailed { subscription_id, message, .. } => {
                org.last_payment_error = Some(message.clone());
                if let Some(subscription_id) = subscription_id {
                    let sub = app.stripe()?.retrieve_subscription(subscription_id).await?;
                    if org.stripe_customer_id.as_deref() == Some(sub.customer_id.as_str()) {
                        apply_subscription(&mut org, &sub, &app.config.catalog, now);
                    }
                }
            }
            Effect::CustomerDeleted { .. } => {
                org.stripe_customer_id = None;
                org.card = None;
                org.pending_checkout = None;
                org.status = SubscriptionStatus::Canceled;
                org.plan = FREE_PLAN.to_string();
                org.interval = None;
                org.quantity = 1;
                org.stripe_subscription_id = None;
                org.scheduled_change = None;
            }
            Effect::Ignore(reason) => return Ok(Outcome::Ignored(reason.clone())),
        }
        match app.store.apply_once(&mut org, markers, now).await {
            Ok(Applied::Written) => return Ok(Outcome::Applied),
            Ok(Applied::DuplicateEvent | Applied::CreditsAlreadyGranted) => return Ok(Outcome::Duplicate),
            Err(err) if err.kind == ErrorKind::Conflict => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ApiError::new(ErrorKind::Conflict, "the org kept changing; Stripe will retry the delivery"))
}

/// What the success page learns from `GET /billing/checkout/{session_id}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckoutSync {
    pub session_id: String,
    pub complete: bool,
    pub paid: bool,
}

/// Syncs a completed Checkout Session of the caller's org from Stripe right away, so the
/// success page does not wait for the webhook; idempotent with it (same markers, same re-read).
pub async fn sync_checkout(app: &App, principal: &Principal, session_id: &str, now: i64) -> Result<CheckoutSync, ApiError> {
    let not_found = || ApiError::not_found(format!("No checkout session {session_id} for this org."));
    let org = app.store.get_org(&principal.org_id).await?.ok_or_else(not_found)?;
    let session = app.stripe()?.retrieve_checkout_session(session_id).await.map_err(|err| match err.details.as_ref() {
        Some(details) if details["stripe_status"] == 404 || details["stripe_status"] == 400 => not_found(),
        _ => err,
    })?;
    let ours = session.client_reference_id.as_deref() == Some(org.org_id.as_str())
        && session.customer_id.is_some()
        && session.customer_id == org.stripe_customer_id;
    if !ours {
        return Err(not_found());
    }
    let effect = match (&session.subscription_id, session.metadata.get("purpose").map(String::as_str)) {
        _ if !(session.complete && session.paid) => None,
        (Some(subscription_id), _) if session.is_subscription => {
            Some(Effect::SyncSubscription { customer_id: String::new(), subscription_id: subscription_id.clone() })
        }
        (_, Some("credits")) => session.metadata.get("credits").and_then(|c| c.parse().ok()).map(|credits| Effect::GrantCredits {
            customer_id: String::new(),
            session_id: session.id.clone(),
            credits,
        }),
        _ => None,
    };
    if let Some(effect) = effect {
        apply(app, &org.org_id, &effect, None, now).await?;
    }
    Ok(CheckoutSync { session_id: session.id, complete: session.complete, paid: session.paid })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Interval;
    use crate::org::Card;

    fn sub(status: SubscriptionStatus, price: &str) -> SubscriptionState {
        SubscriptionState {
            id: "sub_1".into(),
            customer_id: "cus_1".into(),
            status,
            price_id: Some(price.into()),
            quantity: 3,
            current_period_end: Some(2_000),
            cancel_at_period_end: false,
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
        assert_eq!(org.scheduled_change, Some(ScheduledChange { plan: "free".into(), effective_at: 2_000 }));
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
