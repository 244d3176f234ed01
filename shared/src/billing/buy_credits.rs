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
use crate::billing::mandates::MandateUncovered;
use crate::billing::plan_change::answer::CheckoutRequired;
use crate::billing::top_up::{TopUp, buy};
use crate::domain::principal::Principal;
use crate::error::ApiError;

/// Nothing was charged: the agent's mandate does not cover these bundles, so its human pays
/// through the Checkout at `checkout_url`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditsCheckoutRequired {
    #[serde(flatten)]
    pub checkout: CheckoutRequired,
    #[serde(flatten)]
    pub uncovered: MandateUncovered,
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
        checkout: CheckoutRequired::of(link),
        uncovered: MandateUncovered::of(limit),
    }))
}
