//! The Stripe gateway: the only place that talks to Stripe (or the offline stand-in: the base URL
//! is config). Create calls carry an idempotency key derived from the request, so a retried
//! Lambda or a double click never makes two customers or sessions; retryable failures (429, 5xx,
//! connection errors, timeouts) are retried with backoff under the same key; whatever still
//! fails becomes a 502 envelope carrying Stripe's request id.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
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

use crate::config::ConfigError;
use crate::error::{ApiError, ErrorKind};
use crate::org::{Card, SubscriptionStatus};

const ATTEMPTS: u32 = 3;
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(2500);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

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

/// A Checkout Session as the API hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLink {
    pub session_id: String,
    pub url: String,
}

/// What a Checkout Session is for; the price and quantity always come from the catalog.
pub struct CheckoutRequest<'a> {
    pub customer_id: &'a str,
    pub org_id: &'a str,
    pub mode: CheckoutMode,
    pub price_id: &'a str,
    pub quantity: u32,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
    pub metadata: HashMap<String, String>,
    /// Epoch seconds; Stripe accepts 30 minutes to 24 hours from now.
    pub expires_at: i64,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutMode {
    Subscription,
    Payment,
}

/// One invoice of the history, in the API's stable shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceView {
    pub id: String,
    pub number: Option<String>,
    pub status: Option<String>,
    pub currency: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub total: i64,
    pub created: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub hosted_invoice_url: Option<String>,
    pub invoice_pdf: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoicePage {
    pub data: Vec<InvoiceView>,
    pub has_more: bool,
}

/// A subscription as Stripe holds it now: what the org's state is synced from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    pub id: String,
    pub customer_id: String,
    pub status: SubscriptionStatus,
    pub price_id: Option<String>,
    pub quantity: u32,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub card: Option<Card>,
}

/// The parts of a Checkout Session the success-page sync needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSessionState {
    pub id: String,
    pub customer_id: Option<String>,
    pub client_reference_id: Option<String>,
    pub subscription_id: Option<String>,
    pub is_subscription: bool,
    pub complete: bool,
    pub paid: bool,
    pub metadata: HashMap<String, String>,
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

fn expandable_id<T: stripe_types::Object>(value: &stripe_types::Expandable<T>) -> String
where
    T::Id: std::fmt::Display,
{
    value.id().to_string()
}

fn retryable(err: &StripeError) -> bool {
    match err {
        StripeError::Stripe(_, status) => *status == 429 || *status >= 500,
        StripeError::ClientError(_) | StripeError::Timeout => true,
        StripeError::JSONDeserialize(_) | StripeError::ConfigError(_) => false,
    }
}

/// Stripe's request id, from the `request_log_url` of its error body.
fn stripe_request_id(err: &StripeError) -> Option<String> {
    let StripeError::Stripe(api, _) = err else { return None };
    let url = api.request_log_url.as_deref()?;
    url.split(['/', '?']).find(|part| part.starts_with("req_")).map(str::to_string)
}

fn to_api_error(operation: &str, err: &StripeError) -> ApiError {
    tracing::error!(operation, error = %err, "stripe call failed");
    let mut details = json!({ "operation": operation });
    if let StripeError::Stripe(api, status) = err {
        details["stripe_status"] = json!(status);
        details["stripe_error_type"] = json!(api.type_.as_str());
        if let Some(code) = &api.code {
            details["stripe_code"] = json!(code.as_str());
        }
    }
    if let Some(id) = stripe_request_id(err) {
        details["stripe_request_id"] = json!(id);
    }
    ApiError::new(ErrorKind::StripeError, format!("Stripe could not complete {operation}; nothing was changed. Retry shortly."))
        .with_details(details)
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

    /// Sends `make()` up to `ATTEMPTS` times while the failure is retryable, each time with the
    /// same idempotency key (when there is one), so Stripe applies it at most once.
    async fn send<R, T>(&self, operation: &str, key: Option<&str>, make: impl Fn() -> R) -> Result<T, ApiError>
    where
        R: StripeRequest<Output = T>,
        T: miniserde::Deserialize,
    {
        let key = key.map(IdempotencyKey::new).transpose().map_err(|e| ApiError::internal(format!("idempotency key: {e}")))?;
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let strategy = key.clone().map_or(RequestStrategy::Once, RequestStrategy::Idempotent);
            match make().customize().request_strategy(strategy).send(&self.client).await {
                Ok(value) => return Ok(value),
                Err(err) if attempt < ATTEMPTS && retryable(&err) => {
                    tracing::warn!(operation, attempt, error = %err, "stripe call failed, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 3;
                    attempt += 1;
                }
                Err(err) => return Err(to_api_error(operation, &err)),
            }
        }
    }

    /// The org's Stripe customer. The key is the org id alone: however often this runs
    /// (retries, two concurrent first checkouts), Stripe makes one customer per org.
    pub async fn create_customer(&self, org_id: &str, name: &str) -> Result<String, ApiError> {
        let key = idempotency_key(&["customer", org_id]);
        let metadata = HashMap::from([("org_id".to_string(), org_id.to_string())]);
        let customer = self.send("create_customer", Some(&key), || CreateCustomer::new().name(name).metadata(metadata.clone())).await?;
        Ok(customer.id.to_string())
    }

    pub async fn create_checkout_session(&self, req: &CheckoutRequest<'_>) -> Result<CheckoutLink, ApiError> {
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
        let url = session.url.ok_or_else(|| ApiError::new(ErrorKind::StripeError, "Stripe returned a Checkout Session without a URL."))?;
        Ok(CheckoutLink { session_id: session.id.to_string(), url })
    }

    /// Expires an open session nobody will be sent to (it lost a race); best effort.
    pub async fn expire_checkout_session(&self, session_id: &str) {
        if let Err(err) = self.send("expire_checkout_session", None, || ExpireCheckoutSession::new(session_id)).await {
            tracing::warn!(session_id, error = %err, "could not expire an unused checkout session");
        }
    }

    pub async fn create_portal_session(&self, customer_id: &str, return_url: &str, idempotency_key: &str) -> Result<String, ApiError> {
        let session = self
            .send("create_portal_session", Some(idempotency_key), || {
                CreateBillingPortalSession::new().customer(customer_id).return_url(return_url)
            })
            .await?;
        Ok(session.url)
    }

    /// The subscription's current state, with its default card.
    pub async fn retrieve_subscription(&self, subscription_id: &str) -> Result<SubscriptionState, ApiError> {
        let sub = self
            .send("retrieve_subscription", None, || {
                RetrieveSubscription::new(subscription_id).expand(vec!["default_payment_method".to_string()])
            })
            .await?;
        let item = sub.items.data.first();
        let card = sub.default_payment_method.as_ref().and_then(|pm| pm.as_object()).and_then(|pm| pm.card.as_ref()).map(|card| Card {
            brand: card.brand.clone(),
            last4: card.last4.clone(),
            exp_month: u32::try_from(card.exp_month).unwrap_or_default(),
            exp_year: u32::try_from(card.exp_year).unwrap_or_default(),
        });
        Ok(SubscriptionState {
            id: sub.id.to_string(),
            customer_id: expandable_id(&sub.customer),
            status: status_of(sub.status),
            price_id: item.map(|i| i.price.id.to_string()),
            quantity: item.and_then(|i| i.quantity).and_then(|q| u32::try_from(q).ok()).unwrap_or(1),
            current_period_end: item.map(|i| i.current_period_end),
            cancel_at_period_end: sub.cancel_at_period_end || sub.cancel_at.is_some(),
            card,
        })
    }

    pub async fn retrieve_checkout_session(&self, session_id: &str) -> Result<CheckoutSessionState, ApiError> {
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

    pub async fn list_invoices(&self, customer_id: &str, limit: u8, starting_after: Option<&str>) -> Result<InvoicePage, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api_errors(json: &str) -> stripe::ApiErrors {
        miniserde::json::from_str(json).expect("a Stripe error body")
    }

    #[test]
    fn idempotency_keys_are_stable_and_separate_their_parts() {
        assert_eq!(idempotency_key(&["a", "b"]), idempotency_key(&["a", "b"]));
        assert_ne!(idempotency_key(&["a", "b"]), idempotency_key(&["ab", ""]));
        assert_eq!(idempotency_key(&["customer", "acme"]).len(), 64);
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let api = |status| StripeError::Stripe(Box::new(api_errors(r#"{"type":"api_error"}"#)), status);
        assert!(retryable(&api(429)));
        assert!(retryable(&api(500)));
        assert!(retryable(&api(503)));
        assert!(retryable(&StripeError::Timeout));
        assert!(retryable(&StripeError::ClientError("connection refused".into())));
        assert!(!retryable(&api(400)));
        assert!(!retryable(&api(402)));
        assert!(!retryable(&StripeError::JSONDeserialize("bad".into())));
    }

    #[test]
    fn stripe_request_id_comes_from_the_log_url() {
        let api = api_errors(r#"{"type":"api_error","request_log_url":"https://dashboard.stripe.com/test/logs/req_abc123?t=1"}"#);
        let err = StripeError::Stripe(Box::new(api), 500);
        assert_eq!(stripe_request_id(&err).as_deref(), Some("req_abc123"));
        let envelope = to_api_error("create_customer", &err).envelope("r");
        assert_eq!(envelope["error"], "stripe_error");
        assert_eq!(envelope["details"]["stripe_request_id"], "req_abc123");
        assert_eq!(envelope["details"]["stripe_status"], 500);
    }
}
