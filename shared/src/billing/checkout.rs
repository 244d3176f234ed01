//! `POST /billing/checkout`: a subscription Stripe Checkout Session for an org, and what the
//! credits Checkout shares with it (redirect URLs, the org's customer, session windows).
//!
//! Prices and quantities come from the catalog, never from the client. The org's Stripe
//! customer is found (by its `org_id` metadata) or created on first need (one per org, by
//! idempotency key) and recorded with a conditional write together with the session, so a
//! failure leaves the table as it was and the next attempt binds the same customer.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::App;
use crate::billing::load_org;
use crate::billing::promotion_codes::resolve;
use crate::domain::activity::{Activity, Event};
use crate::domain::catalog::{Interval, Plan, Price};
use crate::domain::change::PlanConfig;
use crate::domain::invalid::FieldProblem;
use crate::domain::org::{Org, PendingCheckout};
use crate::domain::principal::Actor;
use crate::domain::principal::Principal;
use crate::domain::promotion::check_code_text;
use crate::domain::redirect;
use crate::domain::trial::trial_days_offered;
use crate::error::{ApiError, ErrorKind};
use crate::retry::{Policy, retry};
use crate::store::OnceMarkers;
use crate::stripe::{CheckoutDiscount, CheckoutLink, CheckoutMode, CheckoutRequest, StripeGateway, TrialOffer, idempotency_key};
use crate::telemetry::current_request_id;

/// Identical requests within one window share an idempotency key (double clicks, retries).
const WINDOW_SECS: i64 = 60;
/// Stripe's shortest session lifetime is 30 minutes; keep a margin for clock skew.
const SESSION_LIFETIME_SECS: i64 = 32 * 60;

/// `POST /billing/checkout`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionCheckoutBody {
    /// A paid plan of the catalog (`GET /billing/plans`).
    #[schema(schema_with = crate::field_schemas::paid_plan)]
    pub plan: String,
    pub interval: Interval,
    /// Per-unit plans: the units to buy (the plan's `per_unit` range, default its minimum);
    /// other plans: 1 or left out.
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(schema_with = crate::field_schemas::plan_quantity)]
    pub quantity: Option<u32>,
    /// On an allowed origin; default: the deployment's success URL.
    #[serde(default)]
    #[schema(pattern = r"^https?://[!-~]+$", max_length = 2048)]
    pub success_url: Option<String>,
    /// On an allowed origin; default: the deployment's cancel URL.
    #[serde(default)]
    #[schema(pattern = r"^https?://[!-~]+$", max_length = 2048)]
    pub cancel_url: Option<String>,
    /// A promotion code the customer typed (`LAUNCH20`), checked before anything is created;
    /// without one, the customer may type one on Stripe's page (if the deployment lets them).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub promotion_code: Option<String>,
}

/// The answer of `POST /billing/checkout`: the Checkout page to send the human to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CheckoutSession {
    pub url: String,
    pub session_id: String,
    /// The days of free trial the subscription starts with (0: none; one trial per org).
    pub trial_days: u32,
}

/// A subscription Checkout handed out: its page, and the trial it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionLink {
    pub link: CheckoutLink,
    pub trial_days: u32,
}

impl From<SubscriptionLink> for CheckoutSession {
    fn from(opened: SubscriptionLink) -> Self {
        Self { url: opened.link.url, session_id: opened.link.session_id, trial_days: opened.trial_days }
    }
}

pub(super) fn urls(app: &App, success: Option<&str>, cancel: Option<&str>, problems: &mut Vec<FieldProblem>) -> (String, String) {
    let config = &app.config;
    let mut resolve = |field: &str, given, default: &Option<String>| {
        redirect::resolve(field, given, default.as_deref(), &config.allowed_redirect_origins).unwrap_or_else(|problem| {
            problems.push(problem);
            String::new()
        })
    };
    (resolve("success_url", success, &config.default_success_url), resolve("cancel_url", cancel, &config.default_cancel_url))
}

struct SubscriptionChoice<'a> {
    plan: &'a Plan,
    interval: Interval,
    price: &'a Price,
    quantity: u32,
    success_url: String,
    cancel_url: String,
}

fn validate_subscription<'a>(app: &'a App, body: &SubscriptionCheckoutBody) -> Result<SubscriptionChoice<'a>, ApiError> {
    let mut problems = Vec::new();
    let plan = app.config.catalog.plan(&body.plan);
    let price = plan.and_then(|p| p.prices.get(body.interval));
    match (plan, price) {
        (None, _) => problems.push(FieldProblem::new("plan", format!("`{}` is not a plan of the catalog", body.plan))),
        (Some(p), _) if p.is_free() => problems.push(FieldProblem::new("plan", "is free: no checkout is needed")),
        (Some(_), None) => {
            problems.push(FieldProblem::new("interval", format!("`{}` is not offered for this plan", body.interval.as_str())))
        }
        _ => {}
    }
    let quantity = match plan.map(|p| (&p.per_unit, body.quantity)) {
        Some((Some(unit), quantity)) => {
            let quantity = quantity.unwrap_or(unit.min_quantity);
            if !(unit.min_quantity..=unit.max_quantity).contains(&quantity) {
                problems.push(FieldProblem::new(
                    "quantity",
                    format!("must be {} to {} {}", unit.min_quantity, unit.max_quantity, unit.resource.as_str()),
                ));
            }
            quantity
        }
        Some((None, Some(q))) if q != 1 => {
            problems.push(FieldProblem::new("quantity", "must be 1 (or left out): this plan is not priced per unit"));
            q
        }
        _ => 1,
    };
    let (success_url, cancel_url) = urls(app, body.success_url.as_deref(), body.cancel_url.as_deref(), &mut problems);
    if let Some(Err(problem)) = body.promotion_code.as_deref().map(check_code_text) {
        problems.push(problem);
    }
    match (plan, price) {
        (Some(plan), Some(price)) if problems.is_empty() => {
            Ok(SubscriptionChoice { plan, interval: body.interval, price, quantity, success_url, cancel_url })
        }
        _ => Err(ApiError::validation(problems)),
    }
}

/// The org's Stripe customer: the one recorded, else one Stripe already holds for the org (a
/// function died after creating it, before recording it), else a new one.
pub(super) async fn customer_of(stripe: &StripeGateway, org: &Org) -> Result<String, ApiError> {
    if let Some(id) = &org.stripe_customer_id {
        return Ok(id.clone());
    }
    if let Some(id) = stripe.find_customer(&org.org_id).await? {
        tracing::info!(org_id = %org.org_id, customer_id = %id, "binding the org to the Stripe customer already made for it");
        return Ok(id);
    }
    Ok(stripe.create_customer(&org.org_id, &org.name).await?)
}

/// Without a code of the request's, the customer may type one on Stripe's page, if the
/// deployment lets them.
fn typed_codes(app: &App) -> CheckoutDiscount {
    match app.config.checkout_promotion_codes {
        true => CheckoutDiscount::Typed,
        false => CheckoutDiscount::None,
    }
}

pub(super) fn window_expiry(now: i64) -> (i64, i64) {
    let window = now.div_euclid(WINDOW_SECS);
    (window, (window + 1) * WINDOW_SECS + SESSION_LIFETIME_SECS)
}

pub(crate) fn subscription_exists(org: &Org) -> ApiError {
    ApiError::new(
        ErrorKind::SubscriptionExists,
        "This org already has a live subscription: change plans with an upgrade or downgrade, or manage it in the Customer Portal.",
    )
    .with_details(json!({ "plan": org.plan, "status": org.status }))
}

pub(crate) fn checkout_in_progress(pending: &PendingCheckout) -> ApiError {
    ApiError::new(ErrorKind::CheckoutInProgress, "Another checkout for this org is open: finish it, or start a new one after it expires.")
        .with_details(json!({ "session_id": pending.session_id, "expires_at": pending.expires_at }))
}

/// Starts (or, for the same request, returns again) the org's subscription Checkout Session.
pub async fn subscription_checkout(
    app: &App,
    principal: &Principal,
    body: &SubscriptionCheckoutBody,
    now: i64,
) -> Result<SubscriptionLink, ApiError> {
    let stripe = app.stripe()?;
    let choice = validate_subscription(app, body)?;
    let fingerprint = idempotency_key(&[
        "subscription",
        &choice.plan.id,
        choice.interval.as_str(),
        &choice.quantity.to_string(),
        &choice.success_url,
        &choice.cancel_url,
        body.promotion_code.as_deref().unwrap_or_default(),
    ]);
    // The session this request made, if any: a Mutex only so the attempt future stays Send.
    let created: Mutex<Option<CheckoutLink>> = Mutex::new(None);
    let outcome = retry(Policy::WRITE_RACE, "subscription_checkout", |_| async {
        let mut org = load_org(&app.store, &principal.org_id).await?;
        if org.design_partner {
            return Err(
                ApiError::new(ErrorKind::Conflict, "This org is a design partner: it has Scale at no cost and needs no checkout.").into()
            );
        }
        if org.status.is_live() {
            return Err(subscription_exists(&org).into());
        }
        if let Some(pending) = org.pending_checkout.as_ref().filter(|p| p.expires_at > now) {
            return match pending.fingerprint == fingerprint {
                true => Ok(SubscriptionLink {
                    link: CheckoutLink { session_id: pending.session_id.clone(), url: pending.url.clone() },
                    trial_days: pending.trial_days,
                }),
                false => Err(checkout_in_progress(pending).into()),
            };
        }
        // Decided on the org as read, and recorded with the session in one conditional write:
        // of two Checkouts racing, one is recorded (and the other expired), so one trial at most.
        let trial_days = trial_days_offered(&org, choice.plan);
        // Checked before the customer is made: a refused code leaves nothing behind.
        let discount = match &body.promotion_code {
            Some(code) => CheckoutDiscount::PromotionCode(resolve(app, &org, code, choice.price, choice.quantity, now).await?),
            None => typed_codes(app),
        };
        let customer_id = customer_of(stripe, &org).await?;
        let (window, expires_at) = window_expiry(now);
        let metadata = HashMap::from([
            ("org_id".to_string(), org.org_id.clone()),
            ("plan".to_string(), choice.plan.id.clone()),
            ("interval".to_string(), choice.interval.as_str().to_string()),
        ]);
        let link = stripe
            .create_checkout_session(&CheckoutRequest {
                customer_id: &customer_id,
                org_id: &org.org_id,
                mode: CheckoutMode::Subscription,
                price_id: &choice.price.price_id,
                quantity: choice.quantity,
                success_url: &choice.success_url,
                cancel_url: &choice.cancel_url,
                metadata,
                expires_at,
                idempotency_key: idempotency_key(&["checkout", &org.org_id, &fingerprint, &window.to_string(), &trial_days.to_string()]),
                trial: Some(TrialOffer { days: trial_days, requires_card: app.config.trial_requires_card }),
                discount,
                automatic_tax: app.config.automatic_tax,
            })
            .await?;
        *created.lock().unwrap_or_else(|e| e.into_inner()) = Some(link.clone());
        org.stripe_customer_id = Some(customer_id);
        org.pending_checkout = Some(PendingCheckout {
            session_id: link.session_id.clone(),
            url: link.url.clone(),
            fingerprint: fingerprint.clone(),
            expires_at,
            trial_days,
        });
        let to = PlanConfig { plan: choice.plan.id.clone(), interval: Some(choice.interval), quantity: choice.quantity };
        let started = [Activity::new(
            &org.org_id,
            now,
            Actor::of(principal),
            Event::CheckoutStarted { session_id: link.session_id.clone(), to },
            current_request_id(),
        )];
        app.store.apply_once(&mut org, OnceMarkers { activities: &started, ..OnceMarkers::default() }, now).await?;
        Ok(SubscriptionLink { link, trial_days })
    })
    .await;
    // A session that lost the race to another request's is expired, so only the session the
    // table records can be paid. One whose write failed is left open: its URL was never handed
    // out, and the client's retry (same idempotency key) gets and records that same session.
    let winner = match &outcome {
        Ok(opened) => Some(opened.link.session_id.as_str()),
        Err(err) if err.kind == ErrorKind::CheckoutInProgress => err.details.as_ref().and_then(|d| d["session_id"].as_str()),
        Err(_) => None,
    };
    let created = created.into_inner().unwrap_or_else(|e| e.into_inner());
    if let (Some(mine), Some(winner)) = (&created, winner)
        && mine.session_id != winner
    {
        stripe.expire_checkout_session(&mine.session_id).await;
    }
    outcome
}

/// Records the org's Stripe customer unless one is recorded already (a concurrent request
/// found or made the same customer: the idempotency key is the org id).
pub(super) async fn record_customer(app: &App, org_id: &str, customer_id: &str) -> Result<(), ApiError> {
    retry(Policy::WRITE_RACE, "record_customer", |_| async {
        let mut org = load_org(&app.store, org_id).await?;
        if org.stripe_customer_id.is_none() {
            org.stripe_customer_id = Some(customer_id.to_string());
            app.store.save_org(&mut org).await?;
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_outlive_stripes_minimum_and_windows_are_shared() {
        for now in [0, 59, 60, 1_700_000_123] {
            let (window, expires_at) = window_expiry(now);
            assert!(expires_at - now >= 30 * 60 + 60, "{now}");
            assert!(expires_at - now <= 34 * 60, "{now}");
            assert_eq!(window, window_expiry(window * WINDOW_SECS).0);
        }
        assert_eq!(window_expiry(120).1, window_expiry(179).1, "same window, same params, same key");
    }
}
