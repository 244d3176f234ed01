//! Stripe objects built from Stripe's own published fixtures (see `fixtures/LICENSE`). Every
//! builder starts from a copy of the fixture and overrides fields, so the key set is always
//! the real one; the fixtures' sample values (shipping costs, discounts, transfer data...)
//! are reset to what a plain test-mode account returns.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::cards::TestCard;
use crate::catalog::{Price, Product};
use crate::totals::Totals;

mod billing;
mod promotions;

pub(crate) use billing::{
    LineSource, NewInvoice, NewInvoiceLine, NewSchedule, NewSubscription, NewSubscriptionItem, SchedulePhase, invoice, invoice_line,
    pending_update, subscription, subscription_automatic_tax, subscription_item, subscription_schedule,
};
pub(crate) use promotions::{NewCoupon, NewDiscount, NewPromotionCode, coupon, discount, promotion_code, tax_rate};

/// The API version events are rendered at: the one async-stripe 1.0.0-rc.10 is generated
/// for, so its webhook parser does not warn about a version mismatch.
pub(crate) const API_VERSION: &str = "2026-09-30.endive";

const FIXTURES: [(&str, &str); 15] = [
    ("billing_portal.session", include_str!("../fixtures/billing_portal.session.json")),
    ("checkout.session", include_str!("../fixtures/checkout.session.json")),
    ("coupon", include_str!("../fixtures/coupon.json")),
    ("customer", include_str!("../fixtures/customer.json")),
    ("discount", include_str!("../fixtures/discount.json")),
    ("event", include_str!("../fixtures/event.json")),
    ("invoice", include_str!("../fixtures/invoice.json")),
    ("item", include_str!("../fixtures/item.json")),
    ("payment_intent", include_str!("../fixtures/payment_intent.json")),
    ("payment_method", include_str!("../fixtures/payment_method.json")),
    ("price", include_str!("../fixtures/price.json")),
    ("product", include_str!("../fixtures/product.json")),
    ("promotion_code", include_str!("../fixtures/promotion_code.json")),
    ("subscription", include_str!("../fixtures/subscription.json")),
    ("tax_rate", include_str!("../fixtures/tax_rate.json")),
];

fn fixture(name: &str) -> Map<String, Value> {
    static PARSED: OnceLock<Vec<(&'static str, Map<String, Value>)>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        FIXTURES
            .iter()
            // The fixtures are compiled in and checked by a unit test, so a parse failure is
            // a build defect, not something a request can trigger.
            .map(|(name, text)| (*name, serde_json::from_str(text).expect("bundled Stripe fixture is valid JSON")))
            .collect()
    });
    parsed.iter().find(|(n, _)| *n == name).map(|(_, m)| m.clone()).unwrap_or_default()
}

/// The fixture `name` with `fields` written over it. Overriding a key the fixture does not
/// have would drift from Stripe's shape, so debug builds (and the tests) refuse it.
fn build(base: Map<String, Value>, fields: Value) -> Value {
    let mut object = base;
    if let Value::Object(fields) = fields {
        for (key, value) in fields {
            debug_assert!(object.contains_key(&key), "{key} is not a field of this Stripe object");
            object.insert(key, value);
        }
    }
    Value::Object(object)
}

/// The nested template at `path` inside a fixture (e.g. a subscription's first item).
fn nested(name: &str, path: &[&str]) -> Map<String, Value> {
    let mut value = Value::Object(fixture(name));
    for key in path {
        value = match key.parse::<usize>() {
            Ok(i) => value.get_mut(i).map(Value::take).unwrap_or_default(),
            Err(_) => value.get_mut(*key).map(Value::take).unwrap_or_default(),
        };
    }
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Stripe's search envelope. The stand-in answers every search in one page, so there is
/// never a `next_page` to ask for.
pub(crate) fn search_result(data: Vec<Value>, has_more: bool, url: &str) -> Value {
    json!({ "object": "search_result", "data": data, "has_more": has_more, "next_page": null, "url": url })
}

/// Stripe's list envelope.
pub(crate) fn list(data: Vec<Value>, has_more: bool, url: &str) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

pub(crate) fn price(price: &Price) -> Value {
    let recurring = price.interval.as_ref().map(
        |interval| json!({ "interval": interval, "interval_count": 1, "meter": null, "usage_type": "licensed", "trial_period_days": null }),
    );
    build(
        fixture("price"),
        json!({
            "created": price.created,
            "currency": price.currency,
            "custom_unit_amount": null,
            "id": price.id,
            "product": price.product,
            "recurring": recurring,
            "transform_quantity": null,
            "type": if price.interval.is_some() { "recurring" } else { "one_time" },
            "unit_amount": price.unit_amount,
            "unit_amount_decimal": price.unit_amount.to_string(),
        }),
    )
}

/// The legacy `plan` Stripe still renders next to a recurring price on subscription items.
fn plan(price: &Price) -> Value {
    build(
        nested("subscription", &["items", "data", "0", "plan"]),
        json!({
            "amount": price.unit_amount,
            "amount_decimal": price.unit_amount.to_string(),
            "billing_scheme": "per_unit",
            "created": price.created,
            "currency": price.currency,
            "id": price.id,
            "interval": price.interval.as_deref().unwrap_or("month"),
            "interval_count": 1,
            "livemode": false,
            "metadata": {},
            "product": price.product,
            "transform_usage": null,
        }),
    )
}

pub(crate) fn product(product: &Product) -> Value {
    build(
        fixture("product"),
        json!({
            "created": product.created,
            "default_price": product.default_price,
            "description": null,
            "id": product.id,
            "name": product.name,
            "package_dimensions": null,
            "type": "service",
            "updated": product.created,
        }),
    )
}

pub(crate) struct NewCustomer<'a> {
    pub(crate) id: &'a str,
    pub(crate) created: i64,
    pub(crate) name: Option<&'a str>,
    pub(crate) email: Option<&'a str>,
    pub(crate) description: Option<&'a str>,
    pub(crate) phone: Option<&'a str>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) invoice_prefix: &'a str,
}

pub(crate) fn customer(c: NewCustomer) -> Value {
    build(
        fixture("customer"),
        json!({
            "address": null,
            "created": c.created,
            "currency": null,
            "description": c.description,
            "discount": null,
            "email": c.email,
            "id": c.id,
            "invoice_prefix": c.invoice_prefix,
            "invoice_settings": {
                "custom_fields": null,
                "default_payment_method": null,
                "footer": null,
                "rendering_options": null,
            },
            "metadata": c.metadata,
            "name": c.name,
            "phone": c.phone,
            "shipping": null,
        }),
    )
}

pub(crate) struct NewCheckoutSession<'a> {
    pub(crate) id: &'a str,
    pub(crate) created: i64,
    pub(crate) mode: &'a str,
    pub(crate) customer: Option<&'a str>,
    pub(crate) customer_email: Option<&'a str>,
    pub(crate) client_reference_id: Option<&'a str>,
    pub(crate) success_url: Option<&'a str>,
    pub(crate) cancel_url: Option<&'a str>,
    pub(crate) currency: &'a str,
    pub(crate) amounts: SessionAmounts,
    /// `(coupon, promotion code)` of each discount the session applies.
    pub(crate) discounts: Vec<(String, Option<String>)>,
    pub(crate) allow_promotion_codes: Option<bool>,
    /// `session_automatic_tax`'s answer for the session.
    pub(crate) automatic_tax: Value,
    pub(crate) billing_address_collection: Option<&'a str>,
    pub(crate) tax_id_collection: bool,
    pub(crate) payment_method_collection: Option<&'a str>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) url: &'a str,
    pub(crate) expires_at: i64,
    /// Payment mode: the `invoice_creation[invoice_data]` to invoice the payment with, if asked.
    pub(crate) invoice_data: Option<&'a InvoiceData>,
}

/// A Checkout Session's amounts: `amount_subtotal`, `total_details` and `amount_total`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SessionAmounts {
    pub(crate) subtotal: i64,
    pub(crate) discount: i64,
    pub(crate) tax: i64,
    pub(crate) total: i64,
}

impl SessionAmounts {
    pub(crate) fn of(totals: &Totals) -> Self {
        Self { subtotal: totals.subtotal, discount: totals.discount, tax: totals.tax, total: totals.total }
    }
}

/// A session's `automatic_tax`: off, waiting for the customer's address, or computed.
pub(crate) fn session_automatic_tax(enabled: bool, located: bool) -> Value {
    match (enabled, located) {
        (false, _) => json!({"enabled": false, "liability": null, "provider": null, "status": null}),
        (true, false) => {
            json!({"enabled": true, "liability": {"type": "self"}, "provider": "stripe", "status": "requires_location_inputs"})
        }
        (true, true) => json!({"enabled": true, "liability": {"type": "self"}, "provider": "stripe", "status": "complete"}),
    }
}

/// What `invoice_creation[invoice_data]` asks the post-payment invoice to carry.
#[derive(Clone, Debug, Default)]
pub(crate) struct InvoiceData {
    pub(crate) description: Option<String>,
    pub(crate) metadata: Map<String, Value>,
}

pub(crate) fn checkout_session(s: NewCheckoutSession) -> Value {
    let subscription = s.mode == "subscription";
    let mut session = build(
        fixture("checkout.session"),
        json!({
            "adaptive_pricing": {"enabled": false},
            "after_expiration": null,
            "allow_promotion_codes": s.allow_promotion_codes,
            "amount_subtotal": s.amounts.subtotal,
            "amount_total": s.amounts.total,
            "automatic_tax": s.automatic_tax,
            "billing_address_collection": s.billing_address_collection,
            "cancel_url": s.cancel_url,
            "client_reference_id": s.client_reference_id,
            "collected_information": null,
            "consent_collection": null,
            "created": s.created,
            "currency": s.currency,
            "currency_conversion": null,
            "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
            "customer": s.customer,
            // Without a customer Stripe creates one for subscriptions and only when needed
            // for payments.
            "customer_creation": match (s.customer, subscription) {
                (Some(_), _) => Value::Null,
                (None, true) => json!("always"),
                (None, false) => json!("if_required"),
            },
            "customer_details": null,
            "customer_email": s.customer_email,
            "discounts": s.discounts.iter().map(|(coupon, code)| json!({"coupon": coupon, "promotion_code": code})).collect::<Vec<_>>(),
            "expires_at": s.expires_at,
            "id": s.id,
            "invoice_creation": if subscription {
                Value::Null
            } else {
                let data = s.invoice_data.cloned().unwrap_or_default();
                json!({"enabled": s.invoice_data.is_some(), "invoice_data": {
                    "account_tax_ids": null, "custom_fields": null, "description": data.description, "footer": null,
                    "issuer": {"type": "self"}, "metadata": data.metadata, "rendering_options": null,
                }})
            },
            "managed_payments": null,
            "metadata": s.metadata,
            "mode": s.mode,
            "payment_intent": null,
            "payment_method_collection": s.payment_method_collection,
            "payment_method_configuration_details": null,
            "permissions": null,
            "saved_payment_method_options": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "success_url": s.success_url,
            "total_details": total_details(s.amounts),
            "ui_mode": "hosted_page",
            "url": s.url,
            "wallet_options": null,
        }),
    );
    // Stripe's fixture leaves this optional field out; it is shown when tax ids are collected.
    if s.tax_id_collection {
        session["tax_id_collection"] = json!({"enabled": true, "required": "never"});
    }
    session
}

pub(crate) fn total_details(amounts: SessionAmounts) -> Value {
    json!({"amount_discount": amounts.discount, "amount_shipping": 0, "amount_tax": amounts.tax})
}

/// A checkout session line item (`object: "item"`), as listed by
/// `GET /v1/checkout/sessions/{id}/line_items`.
pub(crate) fn checkout_item(id: &str, price: &Price, quantity: u64, amounts: SessionAmounts) -> Value {
    build(
        fixture("item"),
        json!({
            "adjustable_quantity": null,
            "amount_discount": amounts.discount,
            "amount_subtotal": amounts.subtotal,
            "amount_tax": amounts.tax,
            "amount_total": amounts.total,
            "currency": price.currency,
            "description": price.product_name,
            "id": id,
            "metadata": {},
            "price": self::price(price),
            "quantity": quantity,
        }),
    )
}

/// The customer details Checkout collects, for a completed session.
pub(crate) fn customer_details(email: Option<&str>, name: Option<&str>, address: &Value) -> Value {
    let mut details = nested("checkout.session", &["customer_details"]);
    details.insert("address".into(), address.clone());
    details.insert("email".into(), json!(email));
    details.insert("name".into(), json!(name));
    details.insert("tax_ids".into(), json!([]));
    Value::Object(details)
}

pub(crate) fn portal_session(id: &str, created: i64, customer: &str, return_url: Option<&str>, url: &str, configuration: &str) -> Value {
    build(
        fixture("billing_portal.session"),
        json!({
            "configuration": configuration,
            "created": created,
            "customer": customer,
            "flow": null,
            "id": id,
            "livemode": false,
            "return_url": return_url,
            "url": url,
        }),
    )
}

/// One of Stripe's test cards (`TestCard::VISA`, the one Checkout's Pay button uses, or one
/// named by a test payment method such as `pm_card_chargeDeclined`), expiring 12/2034.
pub(crate) fn payment_method(
    id: &str,
    created: i64,
    customer: Option<&str>,
    email: Option<&str>,
    name: Option<&str>,
    test_card: &TestCard,
) -> Value {
    let mut card = nested("payment_method", &["card"]);
    card.insert("brand".into(), json!(test_card.brand));
    card.insert("display_brand".into(), json!(test_card.brand));
    card.insert("networks".into(), json!({"available": [test_card.brand], "preferred": null}));
    card.insert("last4".into(), json!(test_card.last4));
    card.insert("exp_month".into(), json!(12));
    card.insert("exp_year".into(), json!(2034));
    card.insert("generated_from".into(), Value::Null);
    card.insert("wallet".into(), Value::Null);
    build(
        fixture("payment_method"),
        json!({
            "billing_details": {
                "address": {"city": null, "country": "US", "line1": null, "line2": null, "postal_code": "42424", "state": null},
                "email": email,
                "name": name,
                "phone": null,
                "tax_id": null,
            },
            "card": card,
            "created": created,
            "customer": customer,
            "id": id,
            "metadata": {},
        }),
    )
}

pub(crate) struct NewPaymentIntent<'a> {
    pub(crate) id: &'a str,
    pub(crate) secret: &'a str,
    pub(crate) created: i64,
    pub(crate) amount: u64,
    pub(crate) currency: &'a str,
    pub(crate) customer: Option<&'a str>,
    pub(crate) payment_method: Option<&'a str>,
    pub(crate) metadata: Map<String, Value>,
    /// `succeeded`, or where a confirmation left it (`requires_payment_method` after a decline).
    pub(crate) status: &'a str,
    /// The charge a confirmation made (succeeded or failed).
    pub(crate) latest_charge: Option<&'a str>,
    /// Why the last confirmation failed: Stripe's error object (`card_error`).
    pub(crate) last_payment_error: Value,
}

/// A payment intent: succeeded, as Checkout leaves it, or as an off-session confirmation left it.
pub(crate) fn payment_intent(p: NewPaymentIntent) -> Value {
    let received = if p.status == "succeeded" { p.amount } else { 0 };
    build(
        fixture("payment_intent"),
        json!({
            "amount": p.amount,
            "amount_details": {"tip": {}},
            "amount_received": received,
            "automatic_payment_methods": null,
            "canceled_at": null,
            "capture_method": "automatic_async",
            "client_secret": format!("{}_secret_{}", p.id, p.secret),
            "created": p.created,
            "currency": p.currency,
            "customer": p.customer,
            "id": p.id,
            "last_payment_error": p.last_payment_error,
            "latest_charge": p.latest_charge,
            "managed_payments": null,
            "metadata": p.metadata,
            "next_action": null,
            "payment_method": p.payment_method,
            "payment_method_configuration_details": null,
            "payment_method_options": {"card": {"installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic"}},
            "processing": null,
            "shipping": null,
            "status": p.status,
            "transfer_data": null,
        }),
    )
}

pub(crate) struct NewEvent<'a> {
    pub(crate) id: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) created: i64,
    pub(crate) object: Value,
    pub(crate) previous_attributes: Option<Value>,
    pub(crate) request_id: Option<&'a str>,
    pub(crate) idempotency_key: Option<&'a str>,
    pub(crate) pending_webhooks: u32,
}

pub(crate) fn event(e: NewEvent) -> Value {
    let mut data = Map::new();
    data.insert("object".into(), e.object);
    if let Some(previous) = e.previous_attributes {
        data.insert("previous_attributes".into(), previous);
    }
    build(
        fixture("event"),
        json!({
            "api_version": API_VERSION,
            "created": e.created,
            "data": data,
            "id": e.id,
            "pending_webhooks": e.pending_webhooks,
            "request": {"id": e.request_id, "idempotency_key": e.idempotency_key},
            "type": e.kind,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_parses_to_an_object_of_its_kind() {
        for (name, text) in FIXTURES {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(value["object"], name, "fixture {name}");
        }
        assert_eq!(nested("subscription", &["items", "data", "0"])["object"], "subscription_item");
        assert_eq!(nested("invoice", &["lines", "data", "0"])["object"], "line_item");
    }
}
