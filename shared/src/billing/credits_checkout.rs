//! `POST /billing/credits/checkout`: a one-time Stripe Checkout for credit bundles. The credits
//! land on the org when Stripe confirms the payment (webhook or success-page sync).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::billing::checkout::{customer_of, record_customer, urls, window_expiry};
use crate::billing::load_org;
use crate::domain::invalid::FieldProblem;
use crate::domain::principal::Principal;
use crate::error::ApiError;
use crate::stripe::{CheckoutDiscount, CheckoutLink, CheckoutMode, CheckoutRequest, idempotency_key};

/// `POST /billing/credits/checkout`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditsCheckoutBody {
    /// Credit bundles to buy: 1 to the catalog's `credits.max_bundles`.
    #[serde(deserialize_with = "crate::domain::whole_number::required")]
    #[schema(schema_with = crate::field_schemas::credit_bundles)]
    pub quantity: u32,
    /// On an allowed origin; default: the deployment's success URL.
    #[serde(default)]
    #[schema(pattern = r"^https?://[!-~]+$", max_length = 2048)]
    pub success_url: Option<String>,
    /// On an allowed origin; default: the deployment's cancel URL.
    #[serde(default)]
    #[schema(pattern = r"^https?://[!-~]+$", max_length = 2048)]
    pub cancel_url: Option<String>,
    /// `checkout` (the default): a Checkout Session to send the human to. `card_on_file`: buy
    /// at once by charging the org's saved card (HUMAN and ADMIN keys), answering `TopUp`; a
    /// card that cannot pay is 402 `payment_failed` with a Checkout in `details.checkout_url`.
    #[serde(default)]
    pub payment: Payment,
}

/// How `POST /billing/credits/checkout` pays for the bundles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Payment {
    #[default]
    Checkout,
    CardOnFile,
}

/// The answer of `POST /billing/credits/checkout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CreditsCheckoutSession {
    pub checkout_url: String,
    pub session_id: String,
}

impl From<CheckoutLink> for CreditsCheckoutSession {
    fn from(link: CheckoutLink) -> Self {
        Self { checkout_url: link.url, session_id: link.session_id }
    }
}

/// Starts a one-time Checkout for `quantity` credit bundles; credits land when Stripe confirms payment.
pub async fn credits_checkout(app: &App, principal: &Principal, body: &CreditsCheckoutBody, now: i64) -> Result<CheckoutLink, ApiError> {
    let stripe = app.stripe()?;
    let credits = &app.config.catalog.credits;
    let mut problems: Vec<FieldProblem> = credits.quantity_problem(body.quantity).into_iter().collect();
    let (success_url, cancel_url) = urls(app, body.success_url.as_deref(), body.cancel_url.as_deref(), &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let org = load_org(&app.store, &principal.org_id).await?;
    let customer_id = customer_of(stripe, &org).await?;
    let (window, expires_at) = window_expiry(now);
    let quantity = body.quantity.to_string();
    let metadata = HashMap::from([
        ("org_id".to_string(), org.org_id.clone()),
        ("purpose".to_string(), "credits".to_string()),
        ("bundles".to_string(), quantity.clone()),
        ("credits".to_string(), (u64::from(body.quantity) * credits.credits_per_bundle).to_string()),
    ]);
    let link = stripe
        .create_checkout_session(&CheckoutRequest {
            trial: None,
            discount: CheckoutDiscount::None,
            automatic_tax: app.config.automatic_tax,
            customer_id: &customer_id,
            org_id: &org.org_id,
            mode: CheckoutMode::Payment,
            price_id: &credits.price_id,
            quantity: body.quantity,
            success_url: &success_url,
            cancel_url: &cancel_url,
            metadata,
            expires_at,
            idempotency_key: idempotency_key(&["credits", &org.org_id, &quantity, &success_url, &cancel_url, &window.to_string()]),
        })
        .await?;
    // If this write fails the URL is not handed out; the retry gets the same session back.
    if org.stripe_customer_id.is_none() {
        record_customer(app, &org.org_id, &customer_id).await?;
    }
    Ok(link)
}
