//! The MCP tool `buy_credits`: credit bundles bought at once with the card on file when the
//! caller may (a HUMAN or ADMIN key, or an AGENT inside its mandate), as `POST
//! /billing/credits/checkout` with `"payment": "card_on_file"` does. An AGENT outside its mandate
//! (or with none) is charged nothing: it gets a credits Checkout for its human instead, with the
//! limit that stopped it and how to ask for a mandate.

use serde::Serialize;
use utoipa::ToSchema;

use crate::App;
use crate::billing::credits_checkout::{CreditsCheckoutBody, Payment, credits_checkout};
use crate::billing::idempotency::IdempotencyKey;
use crate::billing::mandates::{AskForMandate, ask_for_mandate};
use crate::billing::plan_change::answer::CheckoutRequiredStatus;
use crate::billing::top_up::{TopUp, buy};
use crate::domain::principal::Principal;
use crate::error::ApiError;

/// Nothing was charged: the agent's mandate does not cover these bundles, so its human pays
/// through the Checkout at `checkout_url`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditsCheckoutRequired {
    pub status: CheckoutRequiredStatus,
    pub checkout_url: String,
    pub session_id: String,
    /// Why the mandate did not cover the purchase: `no_mandate`, `expired`, `revoked`, or the
    /// limit (`credit_bundles_per_month`, `max_charge_per_month`).
    pub mandate_limit: String,
    /// How the agent can ask its human for a mandate instead of asking each time.
    pub ask_for_mandate: AskForMandate,
}

/// The answer of the MCP tool `buy_credits`: `paid` (a `TopUp`), or `checkout-required`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CreditsBought {
    Paid(TopUp),
    CheckoutRequired(CreditsCheckoutRequired),
}

/// Buys `quantity` bundles for `principal`; `key` makes a retry replay the first payment.
pub async fn buy_credits(
    app: &App,
    principal: &Principal,
    quantity: u32,
    key: Option<&IdempotencyKey>,
    now: i64,
) -> Result<CreditsBought, ApiError> {
    let limit = match buy(app, principal, quantity, key, None, now).await? {
        Ok(top_up) => return Ok(CreditsBought::Paid(top_up)),
        Err(limit) => limit,
    };
    let body = CreditsCheckoutBody { quantity, success_url: None, cancel_url: None, payment: Payment::Checkout };
    let link = credits_checkout(app, principal, &body, now).await?;
    Ok(CreditsBought::CheckoutRequired(CreditsCheckoutRequired {
        status: CheckoutRequiredStatus::CheckoutRequired,
        checkout_url: link.url,
        session_id: link.session_id,
        mandate_limit: limit.0.to_string(),
        ask_for_mandate: ask_for_mandate(),
    }))
}
