//! What the gateway is asked to send to Stripe, in the API's terms: a Checkout, a payment of the
//! card on file. The prices and amounts always come from the catalog.

use std::collections::HashMap;

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
    /// Subscriptions: the free trial the subscription starts with, if any.
    pub trial: Option<TrialOffer>,
    pub discount: CheckoutDiscount,
    /// Stripe Tax: the billing address and tax ids are collected and saved to the customer,
    /// and the amounts include tax.
    pub automatic_tax: bool,
}

/// A subscription Checkout's free trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrialOffer {
    pub days: u32,
    /// Off: Checkout asks for no card, and a trial that ends without one is cancelled.
    pub requires_card: bool,
}

/// How a Checkout gets a discount. Stripe refuses `discounts` and `allow_promotion_codes`
/// together, so a session has one or the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutDiscount {
    None,
    /// A promotion code (`promo_...`) the server resolved and checked.
    PromotionCode(String),
    /// The customer may type a code on Stripe's page.
    Typed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutMode {
    Subscription,
    Payment,
}

/// A payment of the card on file without the customer present (an off-session PaymentIntent,
/// confirmed at once). The amount always comes from the catalog.
pub struct CardOnFileCharge<'a> {
    pub customer_id: &'a str,
    /// In the currency's smallest unit.
    pub amount: u64,
    pub currency: &'a str,
    pub metadata: HashMap<String, String>,
    /// Derived from the action: the same action is the same payment, however often it is sent.
    pub idempotency_key: String,
}
