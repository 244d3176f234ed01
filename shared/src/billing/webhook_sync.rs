//! Keeps each org's billing state true to Stripe (`POST /stripe/webhook`).
//!
//! Ordering: a subscription is never written from an event's snapshot. Its current state is
//! re-read from Stripe after reading the org, and written conditionally on the org version
//! read; a writer that lost the race re-reads both. So the last write always carries a Stripe
//! read newer than every earlier write's, whatever order events arrive in.
//!
//! Once: the effect is written in one transaction with the event id (and, for credits, the id
//! of the Checkout Session or PaymentIntent that paid) and the activity records of what it changed, so a redelivery or a
//! concurrent instance changes (and reports) nothing.

use serde::Serialize;
use utoipa::ToSchema;

use crate::App;
use crate::billing::load_org;
use crate::billing::plan_change::settle;
use crate::domain::activity::{Activity, Consent, Event, PlanChangeKind, org_changes};
use crate::domain::catalog::FREE_PLAN;
use crate::domain::change::PlanConfig;
use crate::domain::events::{Effect, VerifiedEvent, effect};
use crate::domain::ledger::credits_payment;
use crate::domain::org::{Org, ScheduledChange, SubscriptionStatus};
use crate::domain::principal::Actor;
use crate::domain::subscription::apply_subscription;
use crate::error::ApiError;
use crate::metrics::{self, CheckoutKind};
use crate::retry::{Policy, retry};
use crate::store::{Applied, OnceMarkers};
use crate::telemetry::current_request_id;

/// What a delivery came to; all of them are answered 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Duplicate,
    Ignored(String),
}

/// The answer to a delivery Stripe may stop retrying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookReceipt {
    pub received: bool,
    pub event_id: String,
    /// `applied`, `duplicate` (delivered before) or `ignored: <why>` (nothing to do for it).
    pub outcome: String,
}

impl Outcome {
    /// `applied`, `duplicate` or `ignored`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Ignored(_) => "ignored",
        }
    }
}

impl WebhookReceipt {
    pub fn new(event_id: &str, outcome: &Outcome) -> Self {
        let outcome = match outcome {
            Outcome::Ignored(reason) => format!("ignored: {reason}"),
            other => other.name().to_string(),
        };
        Self { received: true, event_id: event_id.to_string(), outcome }
    }
}

/// Applies one verified webhook event.
pub async fn handle_event(app: &App, event: &VerifiedEvent, now: i64) -> Result<Outcome, ApiError> {
    if app.store.event_seen(&event.id).await? {
        return Ok(Outcome::Duplicate);
    }
    let effect = effect(event);
    let customer_id = match effect.customer_id() {
        Ok(customer_id) => customer_id,
        Err(reason) => return Ok(Outcome::Ignored(reason.to_string())),
    };
    let Some(org_id) = org_of_customer(app, event, customer_id).await? else {
        return Ok(Outcome::Ignored(format!("customer {customer_id} belongs to no org")));
    };
    metrics::org(&org_id);
    let (outcome, org) = apply(app, &org_id, &effect, Some(&event.id), now).await?;
    // A plan change whose function died before recording Stripe's answer: Stripe has now told
    // us something about the org, so complete that change too (it replays the same requests).
    if org.change_intent.is_some()
        && let Err(error) = settle(app, org, now).await
    {
        tracing::warn!(org_id, error = error.kind.code(), "a plan change found by a webhook could not be completed yet");
    }
    Ok(outcome)
}

/// The org of a Stripe customer: the customer index, or, while that eventually consistent index
/// lags behind a just-recorded customer, the org the object names (Checkout's
/// `client_reference_id`, our `metadata.org_id`) if that org's customer it really is.
pub(crate) async fn org_of_customer(app: &App, event: &VerifiedEvent, customer_id: &str) -> Result<Option<String>, ApiError> {
    if let Some(org_id) = app.store.org_id_for_customer(customer_id).await? {
        return Ok(Some(org_id));
    }
    let named = event.object["client_reference_id"].as_str().or(event.object["metadata"]["org_id"].as_str());
    let Some(org_id) = named else { return Ok(None) };
    let org = app.store.get_org(org_id).await?;
    Ok(org.filter(|org| org.stripe_customer_id.as_deref() == Some(customer_id)).map(|org| org.org_id))
}

/// Applies `effect` to the org once (per event id and per credits session), re-reading after a
/// lost race. Also answers the org as this attempt read (and, when it wrote, wrote) it.
pub async fn apply(app: &App, org_id: &str, effect: &Effect, event_id: Option<&str>, now: i64) -> Result<(Outcome, Org), ApiError> {
    retry(Policy::WRITE_RACE, "apply_webhook_effect", |_| async move {
        let mut org = load_org(&app.store, org_id).await?;
        let before = org.clone();
        let mut markers = OnceMarkers { event_id, ..OnceMarkers::default() };
        let mut events = Vec::new();
        // Granted credits are the buyer's doing when a top-up names one, else Stripe's (a paid
        // Checkout), whatever else is executing.
        let mut granted = None;
        match effect {
            Effect::SyncSubscription { subscription_id, .. } | Effect::TrialEnding { subscription_id, .. } => {
                if let Effect::TrialEnding { trial_end, .. } = effect {
                    events.push(Event::TrialEnding { subscription_id: subscription_id.clone(), trial_ends_at: *trial_end });
                }
                let sub = app.stripe()?.retrieve_subscription(subscription_id).await?;
                if org.stripe_customer_id.as_deref() != Some(sub.customer_id.as_str()) {
                    return Ok((Outcome::Ignored(format!("subscription {subscription_id} is not this org's customer's")), org));
                }
                let terms = Terms::of(&org);
                if !apply_subscription(&mut org, &sub, &app.config.catalog, now) {
                    return Ok((Outcome::Ignored(format!("subscription {subscription_id} ended and was replaced")), org));
                }
                terms.void_consents_if_changed(&mut org);
            }
            Effect::GrantCredits { payment_id, credits, bought_by, .. } => {
                org.credits += i64::try_from(*credits).unwrap_or(i64::MAX);
                org.credits_bought = true;
                markers.credits_payment_id = Some(payment_id);
                markers.credits_granted = *credits;
                let (session_id, payment_intent_id) = credits_payment(payment_id);
                let auto_top_up_of = bought_by.as_ref().and_then(|buyer| buyer.auto_top_up_of.clone());
                let event =
                    Event::CreditsGranted { session_id, payment_intent_id, credits: *credits, balance: org.credits, auto_top_up_of };
                let (actor, consent) = match bought_by {
                    Some(buyer) => (
                        Actor::Principal {
                            principal_id: buyer.principal_id.clone(),
                            principal_kind: buyer.kind,
                            key_id: Some(buyer.key_id.clone()),
                        },
                        buyer.mandate.clone().map(|(mandate_id, approved_by)| Consent::Mandate { mandate_id, approved_by }),
                    ),
                    None => (Actor::Stripe, None),
                };
                granted = Some(Activity::new(org_id, now, actor, event, current_request_id()).under(consent));
            }
            Effect::PaymentFailed { subscription_id, message, .. } => {
                org.last_payment_error = Some(message.clone());
                events.push(Event::PaymentFailed { subscription_id: subscription_id.clone(), message: message.clone() });
                if let Some(subscription_id) = subscription_id {
                    let sub = app.stripe()?.retrieve_subscription(subscription_id).await?;
                    if org.stripe_customer_id.as_deref() == Some(sub.customer_id.as_str()) {
                        let terms = Terms::of(&org);
                        apply_subscription(&mut org, &sub, &app.config.catalog, now);
                        terms.void_consents_if_changed(&mut org);
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
                org.change_generation += 1;
            }
            Effect::Ignore(reason) => return Ok((Outcome::Ignored(reason.clone()), org)),
        }
        // A change Stripe shows while a plan change of ours is executing is that change: it is
        // reported as its requester's, under its consent (completing the intent then finds
        // nothing left to report).
        let (kind, actor, consent) = match &before.change_intent {
            Some(intent) => (
                PlanChangeKind::of(intent.change.kind),
                intent.requested_by.clone().unwrap_or(Actor::System),
                intent.claim.as_ref().map(Consent::of),
            ),
            None => (PlanChangeKind::Stripe, Actor::Stripe, None),
        };
        events.extend(org_changes(&before, &org, kind, app.config.credits_low_level));
        let activities: Vec<Activity> = granted
            .into_iter()
            .chain(
                events
                    .into_iter()
                    .map(|event| Activity::new(org_id, now, actor.clone(), event, current_request_id()).under(consent.clone())),
            )
            .collect();
        markers.activities = &activities;
        match app.store.apply_once(&mut org, markers, now).await? {
            Applied::Written => {
                count_completed_checkout(effect, before.pending_checkout.is_some(), &org);
                Ok((Outcome::Applied, org))
            }
            Applied::DuplicateEvent | Applied::CreditsAlreadyGranted => Ok((Outcome::Duplicate, org)),
        }
    })
    .await
}

/// What a consent is computed from: a change of any of these from Stripe's side (a webhook)
/// voids every consent and approval computed before it, as an executed change does.
#[derive(PartialEq)]
struct Terms {
    config: PlanConfig,
    status: SubscriptionStatus,
    cancel_at_period_end: bool,
    scheduled_change: Option<ScheduledChange>,
    subscription_id: Option<String>,
}

impl Terms {
    fn of(org: &Org) -> Self {
        Self {
            config: PlanConfig::of(org),
            status: org.status,
            cancel_at_period_end: org.cancel_at_period_end,
            scheduled_change: org.scheduled_change.clone(),
            subscription_id: org.stripe_subscription_id.clone(),
        }
    }

    fn void_consents_if_changed(&self, org: &mut Org) {
        if *self != Self::of(org) {
            org.change_generation += 1;
        }
    }
}

/// Counts the Checkout a written effect completed, once: a credits session's grant is written
/// once, and so is the live subscription that ends the org's pending Checkout.
fn count_completed_checkout(effect: &Effect, checkout_was_pending: bool, org: &Org) {
    match effect {
        // A top-up of the card on file (a PaymentIntent) completed no Checkout.
        Effect::GrantCredits { payment_id, .. } if payment_id.starts_with("cs_") => metrics::checkout_completed(CheckoutKind::Credits),
        Effect::SyncSubscription { .. } if checkout_was_pending && org.pending_checkout.is_none() => {
            metrics::checkout_completed(CheckoutKind::Subscription)
        }
        _ => {}
    }
}
