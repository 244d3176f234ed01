//! The billing objects: subscriptions and their items, schedules and pending updates,
//! invoices and their lines.

use serde_json::{Map, Value, json};

use super::promotions::{discount_amounts, tax_amount};
use super::{build, fixture, list, nested, plan, price};
use crate::catalog::Price;
use crate::totals::Totals;

pub(crate) struct NewSubscriptionItem<'a> {
    pub(crate) id: &'a str,
    pub(crate) subscription: &'a str,
    pub(crate) price: &'a Price,
    pub(crate) quantity: u64,
    pub(crate) created: i64,
    pub(crate) period: (i64, i64),
}

pub(crate) fn subscription_item(i: NewSubscriptionItem) -> Value {
    build(
        nested("subscription", &["items", "data", "0"]),
        json!({
            "billing_thresholds": null,
            "created": i.created,
            "current_period_start": i.period.0,
            "current_period_end": i.period.1,
            "id": i.id,
            "metadata": {},
            "plan": plan(i.price),
            "price": price(i.price),
            "quantity": i.quantity,
            "subscription": i.subscription,
        }),
    )
}

pub(crate) struct NewSubscription<'a> {
    pub(crate) id: &'a str,
    pub(crate) created: i64,
    pub(crate) customer: &'a str,
    pub(crate) currency: &'a str,
    pub(crate) items: Vec<Value>,
    pub(crate) latest_invoice: &'a str,
    pub(crate) default_payment_method: Option<&'a str>,
    pub(crate) metadata: Map<String, Value>,
    /// The trial's start and end, when it starts with one.
    pub(crate) trial: Option<(i64, i64)>,
    /// `trial_settings[end_behavior][missing_payment_method]`.
    pub(crate) missing_payment_method: &'a str,
    pub(crate) discounts: Vec<String>,
    pub(crate) automatic_tax: bool,
}

pub(crate) fn subscription_automatic_tax(enabled: bool) -> Value {
    json!({"disabled_reason": null, "enabled": enabled, "liability": if enabled { json!({"type": "self"}) } else { Value::Null }})
}

pub(crate) fn subscription(s: NewSubscription) -> Value {
    build(
        fixture("subscription"),
        json!({
            "automatic_tax": subscription_automatic_tax(s.automatic_tax),
            "billing_cycle_anchor": s.created,
            "billing_cycle_anchor_config": null,
            "billing_mode": {"flexible": null, "type": "classic"},
            "billing_schedules": [],
            "billing_thresholds": null,
            "cancel_at": null,
            "cancel_at_period_end": false,
            "canceled_at": null,
            "cancellation_details": {"comment": null, "feedback": null, "reason": null},
            "created": s.created,
            "currency": s.currency,
            "customer": s.customer,
            "default_payment_method": s.default_payment_method,
            "discounts": s.discounts,
            "ended_at": null,
            "id": s.id,
            "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": list(s.items, false, &format!("/v1/subscription_items?subscription={}", s.id)),
            "latest_invoice": s.latest_invoice,
            "managed_payments": null,
            "metadata": s.metadata,
            "next_pending_invoice_item_invoice": null,
            "pause_collection": null,
            "payment_settings": {"payment_method_options": null, "payment_method_types": null, "save_default_payment_method": "off"},
            "pending_invoice_item_interval": null,
            "pending_update": null,
            "start_date": s.created,
            "status": if s.trial.is_some() { "trialing" } else { "active" },
            "transfer_data": null,
            "trial_end": s.trial.map(|(_, end)| end),
            "trial_settings": {"end_behavior": {"missing_payment_method": s.missing_payment_method}},
            "trial_start": s.trial.map(|(start, _)| start),
        }),
    )
}

/// One phase of a subscription schedule: its items (`{price, quantity}`) and dates.
pub(crate) struct SchedulePhase {
    pub(crate) items: Vec<(String, u64)>,
    pub(crate) start: i64,
    pub(crate) end: i64,
}

pub(crate) struct NewSchedule<'a> {
    pub(crate) id: &'a str,
    pub(crate) created: i64,
    pub(crate) customer: &'a str,
    pub(crate) subscription: &'a str,
    pub(crate) currency: &'a str,
    pub(crate) phases: &'a [SchedulePhase],
}

/// A subscription schedule as Stripe renders an `active` one. There is no published fixture
/// for it in the set this folder copies, so the key set follows Stripe's API reference.
pub(crate) fn subscription_schedule(s: NewSchedule) -> Value {
    let phases: Vec<Value> = s
        .phases
        .iter()
        .map(|phase| {
            let items: Vec<Value> = phase
                .items
                .iter()
                .map(|(price, quantity)| {
                    json!({"billing_thresholds": null, "discounts": [], "metadata": {}, "plan": price, "price": price, "quantity": quantity, "tax_rates": []})
                })
                .collect();
            json!({
                "add_invoice_items": [], "application_fee_percent": null, "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
                "billing_cycle_anchor": null, "billing_thresholds": null, "collection_method": null, "currency": s.currency,
                "default_payment_method": null, "default_tax_rates": [], "description": null, "discounts": [], "end_date": phase.end,
                "invoice_settings": null, "items": items, "metadata": {}, "on_behalf_of": null, "proration_behavior": "create_prorations",
                "start_date": phase.start, "transfer_data": null, "trial_end": null,
            })
        })
        .collect();
    let current = s.phases.first().map_or(Value::Null, |p| json!({"start_date": p.start, "end_date": p.end}));
    json!({
        "application": null,
        "billing_mode": {"flexible": null, "type": "classic"},
        "canceled_at": null,
        "completed_at": null,
        "created": s.created,
        "current_phase": current,
        "customer": s.customer,
        "customer_account": null,
        "default_settings": {
            "application_fee_percent": null,
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
            "billing_cycle_anchor": "automatic",
            "billing_thresholds": null,
            "collection_method": "charge_automatically",
            "default_payment_method": null,
            "description": null,
            "invoice_settings": {"account_tax_ids": null, "days_until_due": null, "issuer": {"type": "self"}},
            "on_behalf_of": null,
            "transfer_data": null,
        },
        "end_behavior": "release",
        "id": s.id,
        "livemode": false,
        "metadata": {},
        "object": "subscription_schedule",
        "phases": phases,
        "released_at": null,
        "released_subscription": null,
        "status": "active",
        "subscription": s.subscription,
        "test_clock": null,
    })
}

/// What a subscription update waits for while its invoice is unpaid
/// (`payment_behavior=pending_if_incomplete`).
pub(crate) fn pending_update(expires_at: i64, items: Vec<Value>) -> Value {
    build(
        nested("subscription", &["pending_update"]),
        json!({"billing_cycle_anchor": null, "discount": null, "discounts": [], "expires_at": expires_at, "subscription_items": items, "trial_end": null, "trial_from_plan": null, "metadata": null}),
    )
}

pub(crate) struct NewInvoiceLine<'a> {
    pub(crate) id: &'a str,
    pub(crate) invoice: &'a str,
    pub(crate) price: &'a Price,
    pub(crate) quantity: u64,
    pub(crate) amount: i64,
    pub(crate) description: String,
    pub(crate) period: (i64, i64),
    pub(crate) subscription: Option<&'a str>,
    /// What the line bills: a subscription item, or else this invoice item (`ii_...`).
    pub(crate) source: LineSource<'a>,
    pub(crate) proration: bool,
    /// What each discount took off this line.
    pub(crate) discount_amounts: &'a [(String, i64)],
    /// This line's tax, when it is taxed: (amount, taxable amount, tax rate id).
    pub(crate) tax: Option<(i64, i64, &'a str)>,
}

pub(crate) enum LineSource<'a> {
    SubscriptionItem(&'a str),
    InvoiceItem(&'a str),
}

pub(crate) fn invoice_line(l: NewInvoiceLine) -> Value {
    // Each line points back at what it bills, as `parent`.
    let parent = match (l.source, l.subscription) {
        (LineSource::SubscriptionItem(item), subscription) => json!({
            "invoice_item_details": null,
            "subscription_item_details": {
                "invoice_item": null,
                "proration": l.proration,
                "proration_details": {"credited_items": null},
                "subscription": subscription,
                "subscription_item": item,
            },
            "type": "subscription_item_details",
        }),
        (LineSource::InvoiceItem(item), subscription) => json!({
            "invoice_item_details": {
                "invoice_item": item,
                "proration": l.proration,
                "proration_details": {"credited_items": null},
                "subscription": subscription,
            },
            "subscription_item_details": null,
            "type": "invoice_item_details",
        }),
    };
    build(
        nested("invoice", &["lines", "data", "0"]),
        json!({
            "amount": l.amount,
            "currency": l.price.currency,
            "description": l.description,
            "discount_amounts": discount_amounts(l.discount_amounts),
            "discounts": [],
            "id": l.id,
            "invoice": l.invoice,
            "parent": parent,
            "period": {"end": l.period.1, "start": l.period.0},
            "pretax_credit_amounts": [],
            "pricing": {
                "price_details": {"price": l.price.id, "product": l.price.product},
                "type": "price_details",
                "unit_amount_decimal": l.price.unit_amount.to_string(),
            },
            "quantity": l.quantity,
            "quantity_decimal": l.quantity.to_string(),
            "subscription": l.subscription,
            "subtotal": l.amount,
            "taxes": l.tax.map(|(amount, taxable, rate)| vec![tax_amount(amount, taxable, rate)]).unwrap_or_default(),
        }),
    )
}

pub(crate) struct NewInvoice<'a> {
    pub(crate) id: &'a str,
    pub(crate) created: i64,
    pub(crate) customer: &'a Value,
    pub(crate) subscription: Option<(&'a str, &'a Value)>,
    pub(crate) currency: &'a str,
    pub(crate) lines: Vec<Value>,
    pub(crate) totals: &'a Totals,
    /// Whether automatic tax is on, and the tax rate it charged at when the customer has an
    /// address.
    pub(crate) automatic_tax: Option<Option<&'a str>>,
    pub(crate) number: Option<String>,
    pub(crate) billing_reason: &'a str,
    pub(crate) period: (i64, i64),
    pub(crate) paid: bool,
    pub(crate) description: Option<&'a str>,
    pub(crate) metadata: &'a Map<String, Value>,
    pub(crate) public_base: &'a str,
}

/// A finalized invoice that was charged once: `paid`, or `open` after a failed attempt.
pub(crate) fn invoice(i: NewInvoice) -> Value {
    let total = i.totals.total;
    let paid_amount = if i.paid { total } else { 0 };
    let automatic_tax = match i.automatic_tax {
        None => json!({"disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null}),
        Some(rate) => json!({
            "disabled_reason": null, "enabled": true, "liability": {"type": "self"}, "provider": "stripe",
            "status": if rate.is_some() { "complete" } else { "requires_location_inputs" },
        }),
    };
    let total_taxes: Vec<Value> = match i.automatic_tax {
        Some(Some(rate)) => vec![tax_amount(i.totals.tax, i.totals.taxable(), rate)],
        _ => Vec::new(),
    };
    let parent = i.subscription.map(|(id, metadata)| {
        json!({
            "quote_details": null,
            "subscription_details": {"metadata": metadata, "subscription": id},
            "type": "subscription_details",
        })
    });
    build(
        fixture("invoice"),
        json!({
            "account_name": "Stripe stand-in",
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": paid_amount,
            "amount_remaining": total - paid_amount,
            "attempt_count": 1,
            "attempted": true,
            "auto_advance": !i.paid,
            "automatic_tax": automatic_tax,
            "billing_reason": i.billing_reason,
            "created": i.created,
            "currency": i.currency,
            "customer": i.customer["id"],
            "customer_address": i.customer["address"],
            "customer_email": i.customer["email"],
            "customer_name": i.customer["name"],
            "customer_shipping": null,
            "description": i.description,
            "discounts": i.totals.by_discount.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
            "due_date": null,
            "effective_at": i.created,
            "ending_balance": 0,
            "from_invoice": null,
            "hosted_invoice_url": format!("{}/invoices/{}", i.public_base, i.id),
            "id": i.id,
            "invoice_pdf": format!("{}/invoices/{}/pdf", i.public_base, i.id),
            "last_finalization_error": null,
            "lines": list(i.lines, false, &format!("/v1/invoices/{}/lines", i.id)),
            "metadata": i.metadata,
            "next_payment_attempt": null,
            "number": i.number,
            "parent": parent,
            "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
            "period_end": i.period.1,
            "period_start": i.period.0,
            "rendering": null,
            "shipping_cost": null,
            "shipping_details": null,
            "status": if i.paid { "paid" } else { "open" },
            "status_transitions": {
                "finalized_at": i.created,
                "marked_uncollectible_at": null,
                "paid_at": if i.paid { json!(i.created) } else { Value::Null },
                "voided_at": null,
            },
            "subscription": i.subscription.map(|(id, _)| id),
            "subtotal": i.totals.subtotal,
            "subtotal_excluding_tax": i.totals.subtotal,
            "total": total,
            "total_discount_amounts": discount_amounts(&i.totals.by_discount),
            "total_excluding_tax": i.totals.subtotal - i.totals.discount,
            "total_pretax_credit_amounts": [],
            "total_taxes": total_taxes,
            "webhooks_delivered_at": i.created,
        }),
    )
}
