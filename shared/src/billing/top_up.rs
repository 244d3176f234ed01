//! `POST /billing/credits/checkout` with `"payment": "card_on_file"`: buys credit bundles at once
//! by charging the org's card on file (an off-session PaymentIntent), without a Checkout page.
//!
//! The amount is the catalog's bundle price times the quantity, never the client's. A paid
//! charge's credits are granted through the same effect as a paid credits Checkout's
//! (`Effect::GrantCredits`, keyed by the PaymentIntent id), and the webhook's
//! `payment_intent.succeeded` grants through it too: a function that dies between Stripe and the
//! table still ends with the credits granted, once. With an `Idempotency-Key` a retry replays the
//! first answer; the PaymentIntent's own idempotency key derives from that key, so even a retry
//! that finds no stored answer replays Stripe's payment instead of paying again.
//!
//! A card that refuses (declined, or wanting authentication the customer cannot give off
//! session), or no card at all, is 402 `payment_failed` with a credits Checkout for the same
//! quantity in `details.checkout_url`: the customer pays there instead. Nothing is granted.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::App;
use crate::billing::credits_checkout::{CreditsCheckoutBody, Payment, credits_checkout};
use crate::billing::idempotency::{Answer, IdempotencyKey, fingerprint};
use crate::billing::load_org;
use crate::billing::mandates::{self, MandateUsed};
use crate::billing::webhook_sync::{Outcome, apply};
use crate::domain::events::{Buyer, CARD_ON_FILE, Effect};
use crate::domain::ids::random_hex;
use crate::domain::invalid::FieldProblem;
use crate::domain::mandate::{MandateUse, Uncovered};
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::{ApiError, ErrorKind};
use crate::stripe::{CardOnFileCharge, CardOnFilePayment, idempotency_key};

/// The answer of a top-up that charged the card on file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopUp {
    /// Always `paid`: a refused card is 402 `payment_failed`.
    pub status: TopUpStatus,
    pub payment_intent_id: String,
    /// Credit bundles bought.
    pub quantity: u32,
    pub credits_granted: u64,
    /// In the currency's smallest unit: the catalog's bundle price times `quantity`.
    pub amount_charged: u64,
    pub currency: String,
    /// The org's credits after the grant.
    pub balance: i64,
    /// An AGENT's top-up inside its mandate: which one, and what remains of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandate: Option<MandateUsed>,
}

const KEY_REUSED: &str = "This Idempotency-Key was used for a different request in the last 24 hours; use a new key for a new request.";

/// `TopUp.status`: one value, so clients and the document tell a top-up from a Checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TopUpStatus {
    Paid,
}

/// Why a top-up could not charge the card on file (`details.reason` of `payment_failed`).
const NO_CARD_ON_FILE: &str = "no_card_on_file";

/// `POST /billing/credits/checkout` with `"payment": "card_on_file"`: a HUMAN or ADMIN buys at
/// once; an AGENT only inside its mandate (`credit_bundles_per_month`, and the month's
/// `max_charge_per_month` if set), the draw taken before the charge and given back if the card
/// refuses. Outside it (or with none) an agent gets 402 `mandate_limit_reached`: it buys through
/// Checkout for its human instead.
pub async fn card_on_file(
    app: &App,
    principal: &Principal,
    body: &CreditsCheckoutBody,
    key: Option<&IdempotencyKey>,
    now: i64,
) -> Result<TopUp, ApiError> {
    // The redirect URLs are a Checkout's: a card payment has no page to return from.
    let stray: Vec<FieldProblem> = [("success_url", &body.success_url), ("cancel_url", &body.cancel_url)]
        .into_iter()
        .filter(|(_, url)| url.is_some())
        .map(|(field, _)| FieldProblem::new(field, "only with \"payment\": \"checkout\""))
        .collect();
    if !stray.is_empty() {
        return Err(ApiError::validation(stray));
    }
    buy(app, principal, body.quantity, key, None, now).await?.map_err(mandates::outside)
}

/// Buys `quantity` bundles with the card on file for `principal`, an AGENT only inside its
/// mandate: outside it, nothing drawn and nothing charged, the limit that stopped it.
/// `auto_top_up_of`: the activity id of the spend that set off an automatic top-up.
pub async fn buy(
    app: &App,
    principal: &Principal,
    quantity: u32,
    key: Option<&IdempotencyKey>,
    auto_top_up_of: Option<&str>,
    now: i64,
) -> Result<Result<TopUp, Uncovered>, ApiError> {
    let buyer = |mandate: Option<(String, String)>| Buyer {
        principal_id: principal.principal_id.clone(),
        key_id: principal.key_id.clone(),
        kind: principal.kind,
        mandate,
        auto_top_up_of: auto_top_up_of.map(str::to_string),
    };
    let bundle = &app.config.catalog.credits;
    if let Some(problem) = bundle.quantity_problem(quantity) {
        return Err(ApiError::validation(vec![problem]));
    }
    if principal.kind != PrincipalKind::Agent {
        return top_up(app, principal, quantity, key, buyer(None), None, now).await.map(Ok);
    }
    let org_id = principal.org_id.as_str();
    let (_, record, mandate) = app.store.org_idempotency_and_mandate(org_id, key.map(|k| k.hash.as_str()), &principal.key_id, now).await?;
    if record.is_some() {
        // A retry: its first answer is replayed, and nothing is drawn again.
        return top_up(app, principal, quantity, key, buyer(None), None, now).await.map(Ok);
    }
    let bundles = u64::from(quantity);
    let action = MandateUse::CreditBundles { bundles, charge: bundles * bundle.unit_amount };
    let (mandate, draw) = match mandates::cover(app, mandate.as_ref(), &action, now) {
        Ok(covered) => covered,
        Err(limit) => return Ok(Err(limit)),
    };
    if !app.store.draw_mandate(org_id, &draw, now).await? {
        // A racing action drew the envelope first (or the mandate was revoked): say which limit.
        let again = app.store.get_mandate(org_id, &principal.key_id).await?;
        let limit = mandates::cover(app, again.as_ref(), &action, now).err().ok_or_else(ApiError::contended)?;
        return Ok(Err(limit));
    }
    let used = mandates::used_for(mandate, &draw, now);
    let buyer = buyer(Some((mandate.mandate_id.clone(), mandate.granted_by.clone())));
    let bought = top_up(app, principal, quantity, key, buyer, Some(used), now).await;
    if bought.as_ref().is_err_and(|error| matches!(error.kind, ErrorKind::PaymentFailed | ErrorKind::ValidationFailed)) {
        // Nothing was charged: the envelope gets its draw back (if this fails, it stays lower).
        if let Err(error) = app.store.release_mandate(org_id, &draw).await {
            tracing::warn!(org_id, mandate_id = %draw.mandate_id, error = %error, "a refused top-up's draw was not given back");
        }
    }
    bought.map(Ok)
}

/// Buys `quantity` credit bundles with the org's card on file: the paid `TopUp`, or 402
/// `payment_failed` with a Checkout URL for the same bundles.
async fn top_up(
    app: &App,
    principal: &Principal,
    quantity: u32,
    key: Option<&IdempotencyKey>,
    buyer: Buyer,
    under: Option<MandateUsed>,
    now: i64,
) -> Result<TopUp, ApiError> {
    let bundle = &app.config.catalog.credits;
    let stripe = app.stripe()?;
    let org_id = principal.org_id.as_str();
    let fingerprint = fingerprint(&["top_up", &quantity.to_string()]);
    let (org, record) = app.store.org_and_idempotency(org_id, key.map(|k| k.hash.as_str()), now).await?;
    if let Some(record) = record {
        return replayed(Answer::replay(&record, &fingerprint)?);
    }
    let org = org.ok_or_else(|| ApiError::not_found("The org of this key no longer exists."))?;
    let credits = u64::from(quantity) * bundle.credits_per_bundle;
    let amount = u64::from(quantity) * bundle.unit_amount;
    let currency = app.config.catalog.currency.as_str();
    let payment = match org.stripe_customer_id.as_deref() {
        None => CardOnFilePayment::NoCardOnFile,
        Some(customer_id) => {
            let metadata = [
                ("org_id", org_id.to_string()),
                ("purpose", "credits".to_string()),
                ("bundles", quantity.to_string()),
                ("credits", credits.to_string()),
                ("payment", CARD_ON_FILE.to_string()),
            ];
            let charge = CardOnFileCharge {
                customer_id,
                amount,
                currency,
                metadata: metadata.into_iter().chain(buyer.metadata()).map(|(k, v)| (k.to_string(), v)).collect(),
                idempotency_key: payment_key(org_id, key),
            };
            stripe.charge_card_on_file(&charge).await.map_err(|err| {
                if err.error_type.as_deref() == Some("idempotency_error") {
                    // The first use of this key (whose answer was not kept) was another quantity.
                    ApiError::new(ErrorKind::IdempotencyKeyReused, KEY_REUSED)
                } else if err.is_refusal() || err.operation != "create_payment_intent" {
                    ApiError::from(err)
                } else {
                    outcome_unknown(err)
                }
            })?
        }
    };
    let answer = match payment {
        CardOnFilePayment::Succeeded { payment_intent_id } => {
            let effect =
                Effect::GrantCredits { customer_id: String::new(), payment_id: payment_intent_id.clone(), credits, bought_by: Some(buyer) };
            let granted = match apply(app, org_id, &effect, None, now).await {
                // The webhook granted them first: the balance is what it wrote.
                Ok((Outcome::Duplicate, _)) => load_org(&app.store, org_id).await.map(|org| org.credits),
                Ok((_, org)) => Ok(org.credits),
                Err(error) => Err(error),
            };
            let balance = granted.map_err(|cause| {
                tracing::warn!(org_id, payment_intent_id, cause = cause.kind.code(), problem = %cause.message, "a paid top-up's credits are not granted yet; the webhook grants them");
                being_granted(&payment_intent_id)
            })?;
            let paid = TopUp {
                status: TopUpStatus::Paid,
                payment_intent_id,
                quantity,
                credits_granted: credits,
                amount_charged: amount,
                currency: currency.to_string(),
                balance,
                mandate: under,
            };
            Answer::fresh(serde_json::to_value(paid).map_err(|e| ApiError::internal(e.to_string())))
        }
        CardOnFilePayment::Refused { reason, payment_intent_id } => {
            Answer::fresh(Err(payment_failed(app, principal, quantity, reason.code(), payment_intent_id, now).await?))
        }
        CardOnFilePayment::NoCardOnFile => Answer::fresh(Err(payment_failed(app, principal, quantity, NO_CARD_ON_FILE, None, now).await?)),
    };
    let Some(key) = key else { return replayed(answer) };
    // The payment and its grant are done; failing to keep the answer for a retry must not
    // make this one look failed (a retry replays Stripe's payment and finds the grant made).
    match app.store.put_idempotent_answer(org_id, &key.hash, &answer.record(&fingerprint, now), now).await {
        Ok(Some(first)) => replayed(Answer::replay(&first, &fingerprint)?),
        Ok(None) => replayed(answer),
        Err(error) => {
            tracing::warn!(org_id, error = %error, "a top-up's answer could not be kept for its Idempotency-Key");
            replayed(answer)
        }
    }
}

/// The PaymentIntent's idempotency key: from the client's `Idempotency-Key` when there is one
/// (so its retries, and only they, are the same payment: another quantity under the same key is
/// refused by Stripe), or fresh for a request the client did not mark as retryable.
fn payment_key(org_id: &str, key: Option<&IdempotencyKey>) -> String {
    match key {
        Some(key) => idempotency_key(&["top_up", org_id, &key.hash]),
        None => idempotency_key(&["top_up", org_id, &random_hex(16)]),
    }
}

/// The answer as the caller gets it, fresh or replayed.
fn replayed(answer: Answer) -> Result<TopUp, ApiError> {
    let body = answer.result?;
    serde_json::from_value(body).map_err(|e| ApiError::internal(format!("A stored top-up answer could not be read: {e}.")))
}

/// 402 `payment_failed`: the card on file could not pay; a credits Checkout for the same
/// quantity can.
async fn payment_failed(
    app: &App,
    principal: &Principal,
    quantity: u32,
    reason: &str,
    payment_intent_id: Option<String>,
    now: i64,
) -> Result<ApiError, ApiError> {
    let body = CreditsCheckoutBody { quantity, success_url: None, cancel_url: None, payment: Payment::Checkout };
    let link = credits_checkout(app, principal, &body, now).await?;
    let message = match reason {
        NO_CARD_ON_FILE => "The org has no card on file to charge. Pay for the credits at `details.checkout_url`.",
        "authentication_required" => {
            "The card on file needs its holder to authenticate this payment. Pay for the credits at `details.checkout_url`."
        }
        _ => "The card on file was declined. Pay for the credits at `details.checkout_url` with another card.",
    };
    let mut details = json!({ "reason": reason, "checkout_url": link.url, "session_id": link.session_id });
    if let Some(id) = payment_intent_id {
        details["payment_intent_id"] = json!(id);
    }
    Ok(ApiError::new(ErrorKind::PaymentFailed, message).with_details(details))
}

/// The card was charged but the grant could not be written now (the org's item contended, or
/// the table unavailable): the answer must not say that nothing happened. The webhook grants
/// the credits; a retry with the same `Idempotency-Key` replays the payment and shows them.
pub fn being_granted(payment_intent_id: &str) -> ApiError {
    ApiError::new(
        ErrorKind::ChangeInProgress,
        "The card was charged and the credits are being granted: do not buy again. Call again with the same Idempotency-Key \
         after `Retry-After` seconds to see the balance (it is not charged twice), or read GET /billing/credits.",
    )
    .with_details(json!({ "payment_intent_id": payment_intent_id, "retry_after": GRANTING_RETRY_AFTER_SECS }))
}

/// How long a client waits before asking again about a paid top-up whose grant is pending.
const GRANTING_RETRY_AFTER_SECS: u64 = 2;

/// Stripe may have taken the payment, though it did not say so: the answer must not say that
/// nothing happened. A retry with the same `Idempotency-Key` replays the payment; the webhook
/// grants its credits either way.
fn outcome_unknown(err: crate::stripe::GatewayError) -> ApiError {
    let mut error = ApiError::from(err);
    error.message = "Stripe did not confirm the payment, which may still have gone through: retry with the same Idempotency-Key to \
                     see its outcome (it is not charged twice). Credits of a payment that went through are granted either way."
        .into();
    error
}
