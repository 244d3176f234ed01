//! The fields of Stripe's answers the gateway reads, and nothing else: serde skips the rest of
//! each object, so no function links decoders for Stripe's whole object graph. Shapes follow
//! the API version the request builders send (`stripe_client_core::VERSION`).

use std::collections::HashMap;

use serde::Deserialize;

use crate::domain::org::{Card, SubscriptionStatus};
use crate::domain::promotion::{Coupon, Discount, Duration};
use crate::domain::subscription::{NextPhase, SubscriptionState};
use crate::stripe::{DueNow, InvoiceView};

/// A field Stripe sends as an id, or as the object when the request expanded it.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

impl<T: HasId> Expandable<T> {
    pub(super) fn id(&self) -> &str {
        match self {
            Self::Id(id) => id,
            Self::Object(object) => object.id(),
        }
    }

    fn object(&self) -> Option<&T> {
        match self {
            Self::Id(_) => None,
            Self::Object(object) => Some(object),
        }
    }
}

pub(super) trait HasId {
    fn id(&self) -> &str;
}

impl<T> Expandable<T> {
    pub(super) fn into_object(self) -> Option<T> {
        match self {
            Self::Id(_) => None,
            Self::Object(object) => Some(*object),
        }
    }
}

/// A coupon, as a promotion code or a discount carries it when expanded.
#[derive(Debug, Deserialize)]
pub(super) struct WireCoupon {
    pub id: String,
    pub percent_off: Option<f64>,
    pub amount_off: Option<u64>,
    pub currency: Option<String>,
    pub duration: Duration,
    pub valid: bool,
    pub applies_to: Option<AppliesTo>,
}

impl HasId for WireCoupon {
    fn id(&self) -> &str {
        &self.id
    }
}

impl WireCoupon {
    pub(super) fn coupon(self) -> Coupon {
        Coupon {
            percent_off: self.percent_off,
            amount_off: self.amount_off,
            currency: self.currency,
            duration: self.duration,
            valid: self.valid,
            products: self.applies_to.map(|a| a.products),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct AppliesTo {
    pub products: Vec<String>,
}

/// A discount on a subscription, its coupon and promotion code expanded.
#[derive(Debug, Deserialize)]
pub(super) struct WireDiscount {
    pub id: String,
    pub source: DiscountSource,
    pub promotion_code: Option<Expandable<PromotionCodeRef>>,
    pub end: Option<i64>,
}

impl HasId for WireDiscount {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct DiscountSource {
    pub coupon: Option<Expandable<WireCoupon>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PromotionCodeRef {
    pub id: String,
    pub code: String,
}

impl HasId for PromotionCodeRef {
    fn id(&self) -> &str {
        &self.id
    }
}

impl WireDiscount {
    fn discount(&self) -> Option<Discount> {
        let coupon = self.source.coupon.as_ref()?.object()?;
        Some(Discount {
            promotion_code: self.promotion_code.as_ref().and_then(Expandable::object).map(|p| p.code.clone()),
            percent_off: coupon.percent_off,
            amount_off: coupon.amount_off,
            currency: coupon.currency.clone(),
            duration: coupon.duration,
            ends_at: self.end,
        })
    }
}

/// Any object read only for its id.
#[derive(Debug, Deserialize)]
pub(super) struct Object {
    pub id: String,
}

impl HasId for Object {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A customer read for its id and age.
#[derive(Debug, Deserialize)]
pub(super) struct Customer {
    pub id: String,
    pub created: i64,
}

/// A customer read for the card its invoices (and off-session payments) are charged to.
#[derive(Debug, Deserialize)]
pub(super) struct CustomerCard {
    #[serde(default)]
    pub deleted: bool,
    pub invoice_settings: Option<InvoiceSettings>,
}

#[derive(Debug, Deserialize)]
pub(super) struct InvoiceSettings {
    pub default_payment_method: Option<Expandable<Object>>,
}

/// A payment intent read for its id and status.
#[derive(Debug, Deserialize)]
pub(super) struct PaymentIntent {
    pub id: String,
    pub status: String,
}

/// A list or a search result: both carry their page in `data`.
#[derive(Debug, Deserialize)]
pub(super) struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// An event of `GET /v1/events`: what the webhook sync reads of a delivery.
#[derive(Debug, Deserialize)]
pub(super) struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub(super) struct EventData {
    pub object: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub(super) struct UrlSession {
    pub id: String,
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CheckoutSession {
    pub id: String,
    pub customer: Option<Expandable<Object>>,
    pub client_reference_id: Option<String>,
    pub subscription: Option<Expandable<Object>>,
    pub mode: String,
    pub status: Option<String>,
    pub payment_status: String,
    pub metadata: Option<HashMap<String, String>>,
}

/// A subscription with `default_payment_method` and `schedule` expanded (or not).
#[derive(Debug, Deserialize)]
pub(super) struct Subscription {
    pub id: String,
    pub customer: Expandable<Object>,
    pub status: String,
    pub items: List<SubscriptionItem>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub trial_end: Option<i64>,
    #[serde(default)]
    pub discounts: Vec<Expandable<WireDiscount>>,
    pub schedule: Option<Expandable<Schedule>>,
    pub default_payment_method: Option<Expandable<PaymentMethod>>,
    pub pending_update: Option<serde::de::IgnoredAny>,
    pub latest_invoice: Option<Expandable<Object>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SubscriptionItem {
    pub id: String,
    pub price: Object,
    pub quantity: Option<u64>,
    pub current_period_start: i64,
    pub current_period_end: i64,
}

#[derive(Debug, Deserialize)]
pub(super) struct Schedule {
    pub id: String,
    #[serde(default)]
    pub phases: Vec<Phase>,
}

impl HasId for Schedule {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Phase {
    pub start_date: i64,
    pub items: Vec<PhaseItem>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PhaseItem {
    pub price: Expandable<Object>,
    pub quantity: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PaymentMethod {
    pub id: String,
    pub card: Option<PaymentCard>,
}

impl HasId for PaymentMethod {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PaymentCard {
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

#[derive(Debug, Deserialize)]
pub(super) struct PreviewInvoice {
    pub amount_due: i64,
    #[serde(default)]
    pub total_discount_amounts: Vec<Amount>,
    #[serde(default, deserialize_with = "list_or_null")]
    pub total_taxes: Vec<Amount>,
}

impl PreviewInvoice {
    pub(super) fn due_now(&self) -> DueNow {
        DueNow {
            amount: self.amount_due,
            tax: self.total_taxes.iter().map(|t| t.amount).sum(),
            discount: self.total_discount_amounts.iter().map(|d| d.amount).sum(),
        }
    }
}

/// An entry of `total_discount_amounts` or `total_taxes`.
#[derive(Debug, Deserialize)]
pub(crate) struct Amount {
    pub amount: i64,
}

fn list_or_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// An invoice of the history as Stripe lists it: the fields `InvoiceView` keeps.
#[derive(Debug, Deserialize)]
pub(crate) struct Invoice {
    pub id: String,
    pub number: Option<String>,
    pub status: Option<String>,
    pub currency: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub subtotal: i64,
    #[serde(default)]
    pub total_discount_amounts: Vec<Amount>,
    #[serde(default, deserialize_with = "list_or_null")]
    pub total_taxes: Vec<Amount>,
    pub total: i64,
    pub created: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub hosted_invoice_url: Option<String>,
    pub invoice_pdf: Option<String>,
}

impl From<Invoice> for InvoiceView {
    fn from(invoice: Invoice) -> Self {
        Self {
            discount: invoice.total_discount_amounts.iter().map(|d| d.amount).sum(),
            tax: invoice.total_taxes.iter().map(|t| t.amount).sum(),
            id: invoice.id,
            number: invoice.number,
            status: invoice.status,
            currency: invoice.currency,
            amount_due: invoice.amount_due,
            amount_paid: invoice.amount_paid,
            subtotal: invoice.subtotal,
            total: invoice.total,
            created: invoice.created,
            period_start: invoice.period_start,
            period_end: invoice.period_end,
            hosted_invoice_url: invoice.hosted_invoice_url,
            invoice_pdf: invoice.invoice_pdf,
        }
    }
}

/// Stripe's status names; one this API does not know yet counts as not live.
fn status_of(status: &str) -> SubscriptionStatus {
    serde_json::from_value(serde_json::Value::String(status.to_string())).unwrap_or(SubscriptionStatus::Incomplete)
}

fn count(quantity: Option<u64>) -> u32 {
    quantity.and_then(|q| u32::try_from(q).ok()).unwrap_or(1)
}

impl Subscription {
    /// The subscription in the API's terms.
    pub(super) fn state(self) -> SubscriptionState {
        let item = self.items.data.first();
        let card = self.default_payment_method.as_ref().and_then(Expandable::object).and_then(|pm| pm.card.as_ref()).map(|card| Card {
            brand: card.brand.clone(),
            last4: card.last4.clone(),
            exp_month: u32::try_from(card.exp_month).unwrap_or_default(),
            exp_year: u32::try_from(card.exp_year).unwrap_or_default(),
        });
        let current_period_end = item.map(|i| i.current_period_end);
        // The phase of the schedule that starts when the current period ends: a scheduled change.
        let next_phase = self.schedule.as_ref().and_then(Expandable::object).and_then(|schedule| {
            let phase = schedule.phases.iter().find(|p| current_period_end.is_some_and(|end| p.start_date >= end))?;
            let item = phase.items.first()?;
            Some(NextPhase { price_id: item.price.id().to_string(), quantity: count(item.quantity), starts_at: phase.start_date })
        });
        SubscriptionState {
            customer_id: self.customer.id().to_string(),
            status: status_of(&self.status),
            item_id: item.map(|i| i.id.clone()),
            price_id: item.map(|i| i.price.id.clone()),
            quantity: count(item.and_then(|i| i.quantity)),
            current_period_start: item.map(|i| i.current_period_start),
            current_period_end,
            cancel_at_period_end: self.cancel_at_period_end || self.cancel_at.is_some(),
            trial_end: self.trial_end,
            discount: self.discounts.first().and_then(Expandable::object).and_then(WireDiscount::discount),
            schedule_id: self.schedule.as_ref().map(|s| s.id().to_string()),
            next_phase,
            card,
            id: self.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_expanded_subscription_reads_its_card_and_scheduled_phase() {
        let sub: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "past_due",
            "items": {"object": "list", "has_more": false, "data": [{
                "id": "si_1", "price": {"id": "price_pro", "unit_amount": 4900}, "quantity": 3,
                "current_period_start": 100, "current_period_end": 200
            }]},
            "cancel_at_period_end": false, "cancel_at": null, "pending_update": null, "latest_invoice": "in_1",
            "schedule": {"id": "sub_sched_1", "phases": [
                {"start_date": 100, "items": [{"price": "price_pro", "quantity": 3}]},
                {"start_date": 200, "items": [{"price": {"id": "price_starter"}, "quantity": null}]}
            ]},
            "default_payment_method": {"id": "pm_1", "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}}
        }))
        .expect("a subscription");
        assert!(sub.pending_update.is_none());
        let state = sub.state();
        assert_eq!(state.status, SubscriptionStatus::PastDue);
        assert_eq!((state.item_id.as_deref(), state.price_id.as_deref(), state.quantity), (Some("si_1"), Some("price_pro"), 3));
        assert_eq!(state.schedule_id.as_deref(), Some("sub_sched_1"));
        assert_eq!(state.next_phase, Some(NextPhase { price_id: "price_starter".into(), quantity: 1, starts_at: 200 }));
        assert_eq!(state.card.map(|c| c.last4), Some("4242".into()));
    }

    #[test]
    fn unexpanded_fields_are_ids_and_unknown_statuses_are_not_live() {
        let sub: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "customer": {"id": "cus_1", "object": "customer"}, "status": "some_future_status",
            "items": {"data": [], "has_more": false}, "cancel_at_period_end": false,
            "schedule": "sub_sched_1", "default_payment_method": "pm_1", "pending_update": {"expires_at": 1}
        }))
        .expect("a subscription");
        assert!(sub.pending_update.is_some());
        let state = sub.state();
        assert_eq!((state.customer_id.as_str(), state.schedule_id.as_deref()), ("cus_1", Some("sub_sched_1")));
        assert_eq!((state.status, state.card, state.next_phase), (SubscriptionStatus::Incomplete, None, None));
    }
}
