//! The Stripe gateway: the only place that talks to Stripe (or the offline stand-in: the base URL
//! is config). Create calls carry an idempotency key derived from the request, so a retried
//! Lambda or a double click never makes two customers or sessions; retryable failures (429, 5xx,
//! connection errors, timeouts) are retried with backoff under the same key; whatever still
//! fails is a `GatewayError` carrying Stripe's status and request id.

mod error;
mod model;
mod plan_change;

use std::collections::HashMap;
use std::time::Duration;

use sha2::{Digest, Sha256};
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::ListInvoice;
use stripe_billing::subscription::RetrieveSubscription;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionInvoiceCreation, CreateCheckoutSessionLineItems, CreateCheckoutSessionPaymentIntentData,
    CreateCheckoutSessionSubscriptionData, ExpireCheckoutSession, RetrieveCheckoutSession,
};
use stripe_core::customer::CreateCustomer;
use stripe_shared::CheckoutSessionMode;
use url::Url;

pub use error::GatewayError;
pub use model::{CheckoutLink, CheckoutMode, CheckoutRequest, CheckoutSessionState, InvoicePage, InvoiceView};
pub use plan_change::{ChangeOutcome, PlanItem};

use crate::config::ConfigError;
use crate::domain::org::{Card, SubscriptionStatus};
use crate::domain::subscription::{NextPhase, SubscriptionState};
use crate::retry::{Failure, Policy, retry};

const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(2500);

#[derive(Clone)]
pub struct StripeGateway {
    client: Client,
}

impl std::fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeGateway { .. }")
    }
}

/// An idempotency key made from the parts of a request that define it: the same request
/// (same org, same parameters, same time window) always gets the same key.
pub fn idempotency_key(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

fn status_of(status: stripe_shared::SubscriptionStatus) -> SubscriptionStatus {
    use stripe_shared::SubscriptionStatus as S;
    match status {
        S::Active => SubscriptionStatus::Active,
        S::Canceled => SubscriptionStatus::Canceled,
        S::Incomplete => SubscriptionStatus::Incomplete,
        S::IncompleteExpired => SubscriptionStatus::IncompleteExpired,
        S::PastDue => SubscriptionStatus::PastDue,
        S::Paused => SubscriptionStatus::Paused,
        S::Trialing => SubscriptionStatus::Trialing,
        S::Unpaid => SubscriptionStatus::Unpaid,
        _ => SubscriptionStatus::Incomplete,
    }
}

/// A subscription (its default payment method and schedule expanded) in the API's terms.
fn subscription_state(sub: stripe_shared::Subscription) -> SubscriptionState {
    let item = sub.items.data.first();
    let card = sub.default_payment_method.as_ref().and_then(|pm| pm.as_object()).and_then(|pm| pm.card.as_ref()).map(|card| Card {
        brand: card.brand.clone(),
        last4: card.last4.clone(),
        exp_month: u32::try_from(card.exp_month).unwrap_or_default(),
        exp_year: u32::try_from(card.exp_year).unwrap_or_default(),
    });
    let current_period_end = item.map(|i| i.current_period_end);
    // The phase of the schedule that starts when the current period ends: a scheduled change.
    let next_phase = sub.schedule.as_ref().and_then(|s| s.as_object()).and_then(|schedule| {
        let phase = schedule.phases.iter().find(|p| current_period_end.is_some_and(|end| p.start_date >= end))?;
        let item = phase.items.first()?;
        Some(NextPhase {
            price_id: item.price.id().to_string(),
            quantity: item.quantity.and_then(|q| u32::try_from(q).ok()).unwrap_or(1),
            starts_at: phase.start_date,
        })
    });
    SubscriptionState {
        id: sub.id.to_string(),
        customer_id: expandable_id(&sub.customer),
        status: status_of(sub.status),
        item_id: item.map(|i| i.id.to_string()),
        price_id: item.map(|i| i.price.id.to_string()),
        quantity: item.and_then(|i| i.quantity).and_then(|q| u32::try_from(q).ok()).unwrap_or(1),
        current_period_start: item.map(|i| i.current_period_start),
        current_period_end,
        cancel_at_period_end: sub.cancel_at_period_end || sub.cancel_at.is_some(),
        schedule_id: sub.schedule.as_ref().map(|s| s.id().to_string()),
        next_phase,
        card,
    }
}

fn expandable_id<T: stripe_types::Object>(value: &stripe_types::Expandable<T>) -> String
where
    T::Id: std::fmt::Display,
{
    value.id().to_string()
}

impl StripeGateway {
    /// `base` is Stripe's API (`https://api.stripe.com/`) or the offline stand-in.
    pub fn new(secret_key: &str, base: &Url) -> Result<Self, ConfigError> {
        let client = ClientBuilder::new(secret_key)
            .url(base.as_str())
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .map_err(|e| ConfigError::Invalid { name: "STRIPE_API_BASE", problem: e.to_string() })?;
        Ok(Self { client })
    }

    /// Sends `make()` under the Stripe retry policy, each attempt with the same idempotency key
    /// (when there is one), so Stripe applies it at most once.
    async fn send<R, T>(&self, operation: &'static str, key: Option<&str>, make: impl Fn() -> R) -> Result<T, GatewayError>
    where
        R: StripeRequest<Output = T>,
        T: miniserde::Deserialize,
    {
        let key = key.map(IdempotencyKey::new).transpose().map_err(|e| GatewayError::local(operation, format!("idempotency key: {e}")))?;
        let result = retry(Policy::STRIPE, operation, |_| {
            let strategy = key.clone().map_or(RequestStrategy::Once, RequestStrategy::Idempotent);
            let request = make();
            let client = &self.client;
            async move {
                request.customize().request_strategy(strategy).send(client).await.map_err(|err| {
                    let err = GatewayError::from_stripe(operation, &err);
                    if err.is_retryable() { Failure::Transient(err) } else { Failure::Permanent(err) }
                })
            }
        })
        .await;
        if let Err(err) = &result {
            tracing::error!(operation, status = ?err.status, stripe_request_id = ?err.request_id, error = %err.description, "stripe call failed");
        }
        result
    }

    /// The org's Stripe customer. The key is the org id alone: however often this runs
    /// (retries, two concurrent first checkouts), Stripe makes one customer per org.
    pub async fn create_customer(&self, org_id: &str, name: &str) -> Result<String, GatewayError> {
        let key = idempotency_key(&["customer", org_id]);
        let metadata = HashMap::from([("org_id".to_string(), org_id.to_string())]);
        let customer = self.send("create_customer", Some(&key), || CreateCustomer::new().name(name).metadata(metadata.clone())).await?;
        Ok(customer.id.to_string())
    }

    pub async fn create_checkout_session(&self, req: &CheckoutRequest<'_>) -> Result<CheckoutLink, GatewayError> {
        let make = || {
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price = Some(req.price_id.to_string());
            item.quantity = Some(u64::from(req.quantity));
            let session = CreateCheckoutSession::new()
                .customer(req.customer_id)
                .client_reference_id(req.org_id)
                .line_items(vec![item])
                .success_url(req.success_url)
                .cancel_url(req.cancel_url)
                .metadata(req.metadata.clone())
                .expires_at(req.expires_at);
            match req.mode {
                CheckoutMode::Subscription => {
                    let mut data = CreateCheckoutSessionSubscriptionData::new();
                    data.metadata = Some(req.metadata.clone());
                    session.mode(CheckoutSessionMode::Subscription).subscription_data(data)
                }
                CheckoutMode::Payment => {
                    let mut data = CreateCheckoutSessionPaymentIntentData::new();
                    data.metadata = Some(req.metadata.clone());
                    // One-time payments get an invoice only when asked; buyers want one.
                    session
                        .mode(CheckoutSessionMode::Payment)
                        .payment_intent_data(data)
                        .invoice_creation(CreateCheckoutSessionInvoiceCreation::new(true))
                }
            }
        };
        let session = self.send("create_checkout_session", Some(&req.idempotency_key), make).await?;
        let url = session
            .url
            .ok_or_else(|| GatewayError::local("create_checkout_session", "Stripe returned a Checkout Session without a URL"))?;
        Ok(CheckoutLink { session_id: session.id.to_string(), url })
    }

    /// Expires an open session nobody will be sent to (it lost a race); best effort.
    pub async fn expire_checkout_session(&self, session_id: &str) {
        if let Err(err) = self.send("expire_checkout_session", None, || ExpireCheckoutSession::new(session_id)).await {
            tracing::warn!(session_id, error = %err, "could not expire an unused checkout session");
        }
    }

    pub async fn create_portal_session(&self, customer_id: &str, return_url: &str, idempotency_key: &str) -> Result<String, GatewayError> {
        let session = self
            .send("create_portal_session", Some(idempotency_key), || {
                CreateBillingPortalSession::new().customer(customer_id).return_url(return_url)
            })
            .await?;
        Ok(session.url)
    }

    /// The subscription's current state, with its default card and its schedule.
    pub async fn retrieve_subscription(&self, subscription_id: &str) -> Result<SubscriptionState, GatewayError> {
        let sub = self
            .send("retrieve_subscription", None, || {
                RetrieveSubscription::new(subscription_id).expand(vec!["default_payment_method".to_string(), "schedule".to_string()])
            })
            .await?;
        Ok(subscription_state(sub))
    }

    pub async fn retrieve_checkout_session(&self, session_id: &str) -> Result<CheckoutSessionState, GatewayError> {
        let session = self.send("retrieve_checkout_session", None, || RetrieveCheckoutSession::new(session_id)).await?;
        Ok(CheckoutSessionState {
            id: session.id.to_string(),
            customer_id: session.customer.as_ref().map(expandable_id),
            client_reference_id: session.client_reference_id,
            subscription_id: session.subscription.as_ref().map(expandable_id),
            is_subscription: session.mode == CheckoutSessionMode::Subscription,
            complete: session.status == Some(stripe_shared::CheckoutSessionStatus::Complete),
            paid: matches!(
                session.payment_status,
                stripe_checkout::CheckoutSessionPaymentStatus::Paid | stripe_checkout::CheckoutSessionPaymentStatus::NoPaymentRequired
            ),
            metadata: session.metadata.unwrap_or_default(),
        })
    }

    pub async fn list_invoices(&self, customer_id: &str, limit: u8, starting_after: Option<&str>) -> Result<InvoicePage, GatewayError> {
        let list = self
            .send("list_invoices", None, || {
                let request = ListInvoice::new().customer(customer_id).limit(i64::from(limit));
                match starting_after {
                    Some(id) => request.starting_after(id),
                    None => request,
                }
            })
            .await?;
        let data = list
            .data
            .into_iter()
            .map(|invoice| InvoiceView {
                id: invoice.id.map(|id| id.to_string()).unwrap_or_default(),
                number: invoice.number,
                status: invoice.status.map(|s| s.as_str().to_string()),
                currency: invoice.currency.to_string(),
                amount_due: invoice.amount_due,
                amount_paid: invoice.amount_paid,
                total: invoice.total,
                created: invoice.created,
                period_start: invoice.period_start,
                period_end: invoice.period_end,
                hosted_invoice_url: invoice.hosted_invoice_url,
                invoice_pdf: invoice.invoice_pdf,
            })
            .collect();
        Ok(InvoicePage { data, has_more: list.has_more })
    }
}
