//! Payment intents made through the API (`POST /v1/payment_intents`), confirmed at once on a
//! card: Stripe's test payment methods decide what the card does, as in Stripe's test mode.
//! `pm_card_visa` pays, `pm_card_chargeDeclined` is declined, and
//! `pm_card_authenticationRequired` asks for 3-D Secure, which an off-session payment cannot
//! do. A card made from such a token remembers what it does by its last four digits, as
//! Stripe's test card numbers do.

use serde_json::{Map, Value, json};

use crate::account::{Account, Origin};
use crate::cards::TestCard;
use crate::error::StripeApiError;
use crate::objects::{self, NewPaymentIntent};

/// What confirming a payment on a card comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Declined,
    AuthenticationRequired,
}

/// A validated `POST /v1/payment_intents`.
pub(crate) struct PaymentIntentRequest {
    pub(crate) amount: u64,
    pub(crate) currency: String,
    pub(crate) customer: Option<String>,
    /// A payment method id or a test token; `None`: the customer's default for invoices.
    pub(crate) payment_method: Option<String>,
    pub(crate) confirm: bool,
    pub(crate) off_session: bool,
    pub(crate) metadata: Map<String, Value>,
}

impl Account {
    /// Creates a payment intent and, with `confirm`, charges its card: a succeeded intent
    /// (`payment_intent.succeeded`), or, when the card refuses, Stripe's 402 `card_error`
    /// with the intent left `requires_payment_method` (`payment_intent.payment_failed`).
    pub(crate) fn create_payment_intent(&mut self, request: PaymentIntentRequest, origin: &Origin) -> Result<Value, StripeApiError> {
        if let Some(customer) = &request.customer
            && self.customers.get(customer).is_none()
        {
            return Err(StripeApiError::no_such(400, "customer", customer, "customer"));
        }
        let payment_method = match (&request.payment_method, &request.customer) {
            (Some(token), customer) if TestCard::of_token(token).is_some() => {
                let card = TestCard::of_token(token).unwrap_or(TestCard::VISA);
                Some(self.create_test_card(customer.as_deref(), &card))
            }
            (Some(id), customer) => {
                let method =
                    self.payment_methods.get(id).ok_or_else(|| StripeApiError::no_such(400, "PaymentMethod", id, "payment_method"))?;
                if method["customer"].as_str().is_some_and(|owner| Some(owner) != customer.as_deref()) {
                    return Err(StripeApiError::invalid(
                        "payment_method",
                        "The provided PaymentMethod belongs to a different Customer; pass that Customer or another PaymentMethod.",
                    ));
                }
                Some(id.clone())
            }
            (None, Some(customer)) => {
                self.customers.get(customer).and_then(|c| c["invoice_settings"]["default_payment_method"].as_str()).map(str::to_string)
            }
            (None, None) => None,
        };
        if request.confirm && payment_method.is_none() {
            return Err(StripeApiError::invalid(
                "payment_method",
                "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent \
                 with a customer's saved card, pass `payment_method`.",
            )
            .with_code("payment_intent_unexpected_state"));
        }
        let id = self.ids.id("pi_", 24);
        let secret = self.ids.id("", 25);
        let outcome = match &payment_method {
            Some(method) if request.confirm => Some(self.outcome(method, request.customer.as_deref())),
            _ => None,
        };
        let charge = outcome.map(|_| self.ids.id("ch_", 24));
        let (status, error) = match outcome {
            None if payment_method.is_some() => ("requires_confirmation", Value::Null),
            None => ("requires_payment_method", Value::Null),
            Some(Outcome::Succeeded) => ("succeeded", Value::Null),
            // On session the customer could authenticate: the intent waits for it.
            Some(Outcome::AuthenticationRequired) if !request.off_session => ("requires_action", Value::Null),
            Some(failed) => ("requires_payment_method", self.payment_error(failed, payment_method.as_deref(), charge.as_deref())),
        };
        let intent = objects::payment_intent(NewPaymentIntent {
            id: &id,
            secret: &secret,
            created: self.now(),
            amount: request.amount,
            currency: &request.currency,
            customer: request.customer.as_deref(),
            payment_method: payment_method.as_deref(),
            metadata: request.metadata,
            status,
            latest_charge: charge.as_deref(),
            last_payment_error: error.clone(),
        });
        self.payment_intents.push(intent.clone());
        match status {
            "succeeded" => self.emit("payment_intent.succeeded", &intent, None, origin),
            "requires_payment_method" if !error.is_null() => self.emit("payment_intent.payment_failed", &intent, None, origin),
            _ => {}
        }
        if error.is_null() { Ok(intent) } else { Err(StripeApiError::card_error(&error, intent)) }
    }

    /// What charging `payment_method` does: by its card's last four digits, and declined for
    /// a customer `Standin::decline_payments` named.
    fn outcome(&self, payment_method: &str, customer: Option<&str>) -> Outcome {
        if customer.is_some_and(|c| self.declining_customers.contains(c)) {
            return Outcome::Declined;
        }
        match self.payment_methods.get(payment_method).and_then(|m| m["card"]["last4"].as_str()) {
            Some(last4) if last4 == TestCard::DECLINED.last4 => Outcome::Declined,
            Some(last4) if last4 == TestCard::AUTHENTICATION_REQUIRED.last4 => Outcome::AuthenticationRequired,
            _ => Outcome::Succeeded,
        }
    }

    /// Stripe's error object for a failed confirmation, as `last_payment_error` holds it.
    fn payment_error(&self, outcome: Outcome, payment_method: Option<&str>, charge: Option<&str>) -> Value {
        let (code, decline_code, message) = match outcome {
            Outcome::AuthenticationRequired => {
                ("authentication_required", "authentication_required", "Your card was declined. This transaction requires authentication.")
            }
            _ => ("card_declined", "generic_decline", "Your card was declined."),
        };
        json!({
            "charge": charge,
            "code": code,
            "decline_code": decline_code,
            "doc_url": format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-")),
            "message": message,
            "payment_method": payment_method.and_then(|id| self.payment_methods.get(id)).cloned(),
            "type": "card_error",
        })
    }

    /// `invoice_settings[default_payment_method]` given as a test token: a new card from it,
    /// saved on the customer (what attaching the token first would make).
    pub(crate) fn save_test_card(&mut self, customer: &str, token: &str) -> Option<String> {
        let card = TestCard::of_token(token)?;
        Some(self.create_test_card(Some(customer), &card))
    }
}
