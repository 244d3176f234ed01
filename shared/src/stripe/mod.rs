//! The Stripe gateway: the only place that talks to Stripe (or the offline stand-in: the base URL
//! is config). Requests are described by async-stripe's request builders and sent by `client`;
//! answers are read into the few fields the API uses (`wire`) and handed out in the API's terms
//! (`answers`); `requests` is what callers ask it to send. Create calls carry an
//! idempotency key derived from the request, so a retried Lambda or a double click never makes
//! two customers or sessions; retryable failures (429, 5xx, connection errors, timeouts) are
//! retried with backoff under the same key; whatever still fails is a `GatewayError` carrying
//! Stripe's status and request id.

mod answers;
mod checkout;
mod client;
mod error;
mod plan_change;
mod promotion;
mod requests;
mod trial;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::ListInvoice;
use stripe_billing::subscription::RetrieveSubscription;
use stripe_client_core::{IdempotencyKey, RequestBuilder, StripeMethod, StripeRequest};
use stripe_core::customer::{CreateCustomer, RetrieveCustomer, SearchCustomer};
use stripe_core::event::ListEvent;
use url::Url;

pub use answers::{CardOnFilePayment, CardRefusal, CheckoutLink, CheckoutSessionState, DueNow, EventPage, InvoicePage, InvoiceView};
pub use error::GatewayError;
pub use plan_change::{ChangeOutcome, PlanItem};
pub use requests::{CardOnFileCharge, CheckoutDiscount, CheckoutMode, CheckoutRequest, TrialOffer};

use self::client::{Answer, Prepared, Raw, StripeHttp};
use self::wire::{Customer, CustomerCard, Event, List, Object, PaymentIntent, Subscription, UrlSession};
use crate::config::ConfigError;
use crate::domain::events::VerifiedEvent;
use crate::domain::subscription::SubscriptionState;
use crate::metrics;
use crate::retry::{Failure, Policy, retry};

/// `POST /v1/payment_intents` for an off-session card payment, posted as the form itself:
/// async-stripe's `CreatePaymentIntent` describes every option Stripe has, which would weigh on
/// every function for the seven fields this sends.
#[derive(Serialize)]
struct OffSessionPaymentIntent<'a> {
    amount: u64,
    currency: &'a str,
    customer: &'a str,
    payment_method: &'a str,
    confirm: bool,
    off_session: bool,
    metadata: &'a HashMap<String, String>,
}

impl StripeRequest for OffSessionPaymentIntent<'_> {
    type Output = ();

    fn build(&self) -> RequestBuilder {
        RequestBuilder::new(StripeMethod::Post, "/payment_intents").form(self)
    }
}

/// Logs a call that failed for good. A refusal (a declined card, an id Stripe does not know) is
/// the caller's answer to give; what an operator must look at is Stripe failing or out of reach.
fn report(operation: &'static str, err: &GatewayError) {
    let (status, stripe_request_id) = (err.status, err.request_id.as_deref());
    if err.is_refusal() {
        tracing::warn!(operation, status, stripe_request_id, error = %err.description, "stripe refused the call");
    } else {
        metrics::stripe_errors(operation);
        tracing::error!(operation, status, stripe_request_id, error = %err.description, "stripe call failed");
    }
}

#[derive(Clone)]
pub struct StripeGateway {
    http: StripeHttp,
    /// HTTP requests sent so far (every attempt), shared by clones.
    calls: Arc<AtomicU64>,
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

impl StripeGateway {
    /// `base` is Stripe's API (`https://api.stripe.com/`) or the offline stand-in.
    pub fn new(secret_key: &str, base: &Url) -> Result<Self, ConfigError> {
        Ok(Self { http: StripeHttp::new(secret_key, base)?, calls: Arc::default() })
    }

    /// How many requests this client (and its clones) has sent to Stripe, retries included.
    pub fn calls_made(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Sends `request` under the Stripe retry policy, each attempt with the same idempotency key
    /// (when there is one), so Stripe applies it at most once; reads the answer into `T`.
    async fn send<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        key: Option<&str>,
        request: impl StripeRequest,
    ) -> Result<T, GatewayError> {
        self.answer(operation, key, request).await.map(|answer| answer.value)
    }

    /// `send`, also saying whether Stripe replayed the answer of an earlier request with the
    /// same idempotency key rather than acting on this one.
    async fn answer<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        key: Option<&str>,
        request: impl StripeRequest,
    ) -> Result<Answer<T>, GatewayError> {
        let prepared = self.http.prepare(request.build());
        let answer = self.attempts(operation, key, &prepared).await.and_then(|raw| raw.decode(operation));
        if let Err(err) = &answer {
            report(operation, err);
        }
        answer
    }

    /// The attempts of one request under the Stripe retry policy, with their metrics. Not
    /// generic, so every call shares it.
    async fn attempts(&self, operation: &'static str, key: Option<&str>, request: &Prepared) -> Result<Raw, GatewayError> {
        let key = key.map(IdempotencyKey::new).transpose().map_err(|e| GatewayError::local(operation, format!("idempotency key: {e}")))?;
        let key = key.as_ref();
        retry(Policy::STRIPE, operation, |attempt| async move {
            if attempt > 1 {
                metrics::stripe_retries(operation);
            }
            self.calls.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let answer = self.http.call(operation, request, key).await;
            metrics::stripe_call_latency(operation, started.elapsed());
            answer.map_err(|err| if err.is_retryable() { Failure::Transient(err) } else { Failure::Permanent(err) })
        })
        .await
    }

    /// The org's Stripe customer. The key is the org id alone: however often this runs
    /// (retries, two concurrent first checkouts), Stripe makes one customer per org.
    pub async fn create_customer(&self, org_id: &str, name: &str) -> Result<String, GatewayError> {
        let key = idempotency_key(&["customer", org_id]);
        let metadata = HashMap::from([("org_id".to_string(), org_id.to_string())]);
        let customer: Object = self.send("create_customer", Some(&key), CreateCustomer::new().name(name).metadata(metadata)).await?;
        Ok(customer.id)
    }

    /// The customer already made for the org (its `metadata['org_id']`), the oldest if there
    /// are several. This finds the customer when its creation's idempotency key cannot: Stripe
    /// forgets keys after 24 hours, so a function that died between Stripe's answer and its
    /// own write, retried later, would otherwise make a second customer. Search lags writes by
    /// up to a minute, a window the idempotency key covers.
    pub async fn find_customer(&self, org_id: &str) -> Result<Option<String>, GatewayError> {
        // Org ids are lowercase letters, digits, `-` and `_` (`org::valid_id`): nothing to escape.
        let request = SearchCustomer::new(format!("metadata['org_id']:'{org_id}'")).limit(100);
        let found: List<Customer> = self.send("find_customer", None, request).await?;
        Ok(found.data.into_iter().min_by_key(|c| c.created).map(|c| c.id))
    }

    /// Charges the customer's default payment method (`invoice_settings.default_payment_method`)
    /// without the customer present: an off-session PaymentIntent, confirmed at once, under the
    /// charge's idempotency key, so a retry of the same action replays Stripe's first answer (a
    /// refusal included) instead of paying twice.
    pub async fn charge_card_on_file(&self, charge: &CardOnFileCharge<'_>) -> Result<CardOnFilePayment, GatewayError> {
        let customer: CustomerCard = self.send("retrieve_customer", None, RetrieveCustomer::new(charge.customer_id)).await?;
        let card = customer.invoice_settings.and_then(|s| s.default_payment_method).map(|pm| pm.id().to_string());
        let Some(payment_method) = card.filter(|_| !customer.deleted) else {
            return Ok(CardOnFilePayment::NoCardOnFile);
        };
        let request = OffSessionPaymentIntent {
            amount: charge.amount,
            currency: charge.currency,
            customer: charge.customer_id,
            payment_method: &payment_method,
            confirm: true,
            off_session: true,
            metadata: &charge.metadata,
        };
        match self.send::<PaymentIntent>("create_payment_intent", Some(&charge.idempotency_key), request).await {
            Ok(intent) if intent.status == "succeeded" => Ok(CardOnFilePayment::Succeeded { payment_intent_id: intent.id }),
            // Cards that need more (`processing`, `requires_action`) are not what an
            // off-session card payment answers; treat them as refused, the Checkout is the way.
            Ok(intent) => Ok(CardOnFilePayment::Refused { reason: CardRefusal::CardDeclined, payment_intent_id: Some(intent.id) }),
            Err(err) if err.status == Some(402) && err.error_type.as_deref() == Some("card_error") => {
                let reason = match err.code.as_deref() {
                    Some("authentication_required") => CardRefusal::AuthenticationRequired,
                    _ => CardRefusal::CardDeclined,
                };
                Ok(CardOnFilePayment::Refused { reason, payment_intent_id: err.payment_intent_id.map(String::from) })
            }
            Err(err) => Err(err),
        }
    }

    /// Expires an open session nobody will be sent to (it lost a race); best effort.
    pub async fn create_portal_session(&self, customer_id: &str, return_url: &str, idempotency_key: &str) -> Result<String, GatewayError> {
        let request = CreateBillingPortalSession::new().customer(customer_id).return_url(return_url);
        let session: UrlSession = self.send("create_portal_session", Some(idempotency_key), request).await?;
        session.url.ok_or_else(|| GatewayError::local("create_portal_session", "Stripe returned a portal session without a URL"))
    }

    /// The subscription's current state, with its default card and its schedule.
    pub async fn retrieve_subscription(&self, subscription_id: &str) -> Result<SubscriptionState, GatewayError> {
        let expand = ["default_payment_method", "schedule", "discounts.source.coupon", "discounts.promotion_code"];
        let request = RetrieveSubscription::new(subscription_id).expand(expand.map(str::to_string).to_vec());
        let sub: Subscription = self.send("retrieve_subscription", None, request).await?;
        Ok(sub.state())
    }

    /// One page (up to 100) of the events created at or after `created_from`, newest first,
    /// after the event `starting_after` of the previous page.
    pub async fn list_events(&self, created_from: i64, starting_after: Option<&str>) -> Result<EventPage, GatewayError> {
        let request = ListEvent::new().created(stripe_types::RangeQueryTs::gte(created_from)).limit(100);
        let request = match starting_after {
            Some(id) => request.starting_after(id),
            None => request,
        };
        let list: List<Event> = self.send("list_events", None, request).await?;
        let events = list
            .data
            .into_iter()
            .map(|e| VerifiedEvent { id: e.id, event_type: e.event_type, created: e.created, object: e.data.object })
            .collect();
        Ok(EventPage { events, has_more: list.has_more })
    }

    pub async fn list_invoices(&self, customer_id: &str, limit: u8, starting_after: Option<&str>) -> Result<InvoicePage, GatewayError> {
        let request = ListInvoice::new().customer(customer_id).limit(i64::from(limit));
        let request = match starting_after {
            Some(id) => request.starting_after(id),
            None => request,
        };
        let list: List<wire::Invoice> = self.send("list_invoices", None, request).await?;
        Ok(InvoicePage { data: list.data.into_iter().map(InvoiceView::from).collect(), has_more: list.has_more })
    }
}
