//! The objects of discounts and tax: coupons, promotion codes, discounts, the tax rate
//! automatic tax charges at, and the amounts invoices list for them.

use serde_json::{Value, json};

use super::{build, fixture};
use crate::coupons::{CouponDuration, CouponSpec, CouponValue, PromotionCodeSpec};

/// `discount_amounts` / `total_discount_amounts`: what each discount took off.
pub(super) fn discount_amounts(amounts: &[(String, i64)]) -> Vec<Value> {
    amounts.iter().map(|(discount, amount)| json!({"amount": amount, "discount": discount})).collect()
}

/// One entry of `taxes` / `total_taxes`: automatic tax at the stand-in's one rate.
pub(super) fn tax_amount(amount: i64, taxable: i64, tax_rate: &str) -> Value {
    json!({
        "amount": amount,
        "tax_behavior": "exclusive",
        "tax_rate_details": {"tax_rate": tax_rate},
        "taxability_reason": "standard_rated",
        "taxable_amount": taxable,
        "type": "tax_rate_details",
    })
}

/// The tax rate automatic tax charges at: the stand-in's rule, as a US sales tax.
pub(crate) fn tax_rate(id: &str, created: i64, percentage: i64) -> Value {
    build(
        fixture("tax_rate"),
        json!({
            "active": true,
            "country": "US",
            "created": created,
            "description": "Automatic tax (Stripe stand-in rule)",
            "display_name": "Sales tax",
            "effective_percentage": percentage,
            "flat_amount": null,
            "id": id,
            "inclusive": false,
            "jurisdiction": "US",
            "jurisdiction_level": "country",
            "percentage": percentage,
            "rate_type": "percentage",
            "state": null,
            "tax_type": "sales_tax",
        }),
    )
}

pub(crate) struct NewCoupon<'a> {
    pub(crate) spec: &'a CouponSpec,
    pub(crate) created: i64,
    /// The product ids of `applies_to`; empty for every product.
    pub(crate) products: &'a [String],
}

/// A coupon. `applies_to` is one of Stripe's includable fields, shown only when expanded:
/// it is kept on the stored object and removed from answers that did not ask for it.
pub(crate) fn coupon(c: NewCoupon) -> Value {
    let (percent_off, amount_off, currency) = match &c.spec.value {
        CouponValue::PercentOff(percent) => (json!(percent), Value::Null, Value::Null),
        CouponValue::AmountOff { amount, currency } => (Value::Null, json!(amount), json!(currency)),
    };
    let (duration, months) = match c.spec.duration {
        CouponDuration::Once => ("once", Value::Null),
        CouponDuration::Repeating { months } => ("repeating", json!(months)),
        CouponDuration::Forever => ("forever", Value::Null),
    };
    let mut coupon = build(
        fixture("coupon"),
        json!({
            "amount_off": amount_off,
            "created": c.created,
            "currency": currency,
            "duration": duration,
            "duration_in_months": months,
            "id": c.spec.id,
            "max_redemptions": null,
            "metadata": {},
            "name": c.spec.name,
            "percent_off": percent_off,
            "redeem_by": null,
            "times_redeemed": 0,
            "valid": true,
        }),
    );
    coupon["applies_to"] = if c.products.is_empty() { Value::Null } else { json!({"products": c.products}) };
    coupon
}

pub(crate) struct NewPromotionCode<'a> {
    pub(crate) id: &'a str,
    pub(crate) created: i64,
    pub(crate) spec: &'a PromotionCodeSpec,
}

/// A promotion code in the shape of the API version async-stripe speaks: the coupon sits in
/// `promotion.coupon` (an id, expandable), not in a top-level `coupon`.
pub(crate) fn promotion_code(p: NewPromotionCode) -> Value {
    let (minimum_amount, minimum_currency) = match &p.spec.minimum_amount {
        Some((amount, currency)) => (json!(amount), json!(currency)),
        None => (Value::Null, Value::Null),
    };
    build(
        fixture("promotion_code"),
        json!({
            "active": p.spec.active,
            "code": p.spec.code,
            "created": p.created,
            "customer": null,
            "customer_account": null,
            "expires_at": p.spec.expires_at,
            "id": p.id,
            "max_redemptions": p.spec.max_redemptions,
            "metadata": {},
            "promotion": {"coupon": p.spec.coupon.id, "type": "coupon"},
            "restrictions": {
                "first_time_transaction": p.spec.first_time_transaction,
                "minimum_amount": minimum_amount,
                "minimum_amount_currency": minimum_currency,
            },
            "times_redeemed": p.spec.times_redeemed,
        }),
    )
}

pub(crate) struct NewDiscount<'a> {
    pub(crate) id: &'a str,
    pub(crate) coupon: &'a str,
    pub(crate) promotion_code: Option<&'a str>,
    pub(crate) customer: Option<&'a str>,
    pub(crate) subscription: Option<&'a str>,
    pub(crate) checkout_session: Option<&'a str>,
    pub(crate) start: i64,
    /// When a `repeating` coupon's months are over; `None` otherwise.
    pub(crate) end: Option<i64>,
}

pub(crate) fn discount(d: NewDiscount) -> Value {
    build(
        fixture("discount"),
        json!({
            "checkout_session": d.checkout_session,
            "customer": d.customer,
            "customer_account": null,
            "end": d.end,
            "id": d.id,
            "invoice": null,
            "invoice_item": null,
            "promotion_code": d.promotion_code,
            "source": {"coupon": d.coupon, "type": "coupon"},
            "start": d.start,
            "subscription": d.subscription,
            "subscription_item": null,
        }),
    )
}
