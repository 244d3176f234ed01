//! What the gateway hands back, in the API's terms: links, Checkout and event pages, invoices,
//! a card payment's outcome. (Stripe's own answers, as read off the wire, are `wire.rs`.)

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::events::VerifiedEvent;

/// A Checkout Session as the API hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLink {
    pub session_id: String,
    pub url: String,
}

/// What an invoice preview says is charged now, in the smallest currency unit: `amount`, tax
/// included, after `discount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DueNow {
    pub amount: i64,
    pub tax: i64,
    pub discount: i64,
}

/// One page of Stripe's events, newest first as Stripe lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<VerifiedEvent>,
    pub has_more: bool,
}

/// One invoice of the history, in the API's stable shape. Amounts in the smallest currency
/// unit: `total = subtotal - discount + tax`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvoiceView {
    pub id: String,
    pub number: Option<String>,
    pub status: Option<String>,
    pub currency: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    /// Before discounts and tax.
    pub subtotal: i64,
    /// What the discounts took off.
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
    pub created: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub hosted_invoice_url: Option<String>,
    pub invoice_pdf: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvoicePage {
    pub data: Vec<InvoiceView>,
    pub has_more: bool,
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

/// What charging the card on file came to. Failures that are Stripe's (not the card's) stay a
/// `GatewayError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardOnFilePayment {
    Succeeded {
        payment_intent_id: String,
    },
    /// The card refused the payment; the PaymentIntent it left, if Stripe named it.
    Refused {
        reason: CardRefusal,
        payment_intent_id: Option<String>,
    },
    /// The customer has no default payment method to charge.
    NoCardOnFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardRefusal {
    /// `card_declined` and every other card error but authentication.
    CardDeclined,
    /// The bank wants the customer to authenticate (3-D Secure): only an on-session payment can.
    AuthenticationRequired,
}

impl CardRefusal {
    /// The API's `details.reason`.
    pub fn code(self) -> &'static str {
        match self {
            Self::CardDeclined => "card_declined",
            Self::AuthenticationRequired => "authentication_required",
        }
    }
}
