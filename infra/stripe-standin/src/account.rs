//! The stand-in's Stripe account: every object it has created, the events those changes
//! produced, and the webhook endpoint events go to. Checkout and billing behaviour live in
//! `checkout/` and `billing.rs` as further `impl Account` blocks; this file holds what they
//! share (collections, customers, event emission, lookups for expansion).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::catalog::{Catalog, PriceSpec};
use crate::clock;
use crate::coupons::{PromotionCodeSpec, Redemption};
use crate::ids::IdGen;
use crate::objects::{self, InvoiceData, NewCustomer, NewEvent};
use crate::params::MetadataUpdate;
use crate::webhook::{Endpoint, Outgoing};

/// What caused a change, for the event's `request` field: the API request's id and
/// idempotency key, or nothing when the customer acted on a hosted page.
#[derive(Clone, Debug, Default)]
pub(crate) struct Origin {
    pub(crate) request_id: Option<String>,
    pub(crate) idempotency_key: Option<String>,
}

/// Objects of one kind in creation order (lists are answered newest first). Accounts here hold
/// a handful of objects, so a scan is simpler than an index and just as fast.
#[derive(Default)]
pub(crate) struct Objects(Vec<Value>);

impl Objects {
    pub(crate) fn get(&self, id: &str) -> Option<&Value> {
        self.0.iter().find(|o| o["id"] == id)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.0.iter_mut().find(|o| o["id"] == id)
    }

    pub(crate) fn push(&mut self, object: Value) {
        self.0.push(object);
    }

    pub(crate) fn newest_first(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().rev()
    }

    pub(crate) fn all(&self) -> &[Value] {
        &self.0
    }
}

pub(crate) struct Account {
    pub(crate) ids: IdGen,
    /// Where hosted pages live, without a trailing slash (`http://127.0.0.1:PORT`).
    pub(crate) public_base: String,
    pub(crate) catalog: Catalog,
    /// The one portal configuration every portal session reports.
    pub(crate) portal_configuration: String,
    pub(crate) customers: Objects,
    pub(crate) sessions: Objects,
    /// What a checkout session carries that its API object does not show.
    pub(crate) session_details: HashMap<String, SessionDetails>,
    pub(crate) subscriptions: Objects,
    pub(crate) invoices: Objects,
    pub(crate) payment_intents: Objects,
    pub(crate) payment_methods: Objects,
    pub(crate) portal_sessions: Objects,
    pub(crate) subscription_schedules: Objects,
    pub(crate) coupons: Objects,
    pub(crate) promotion_codes: Objects,
    pub(crate) discounts: Objects,
    /// The one tax rate automatic tax charges at (`totals::TAX_PERCENT`).
    pub(crate) tax_rate: Value,
    pub(crate) events: Objects,
    /// Customers whose card declines every charge (a test hook, like Stripe's decline cards).
    pub(crate) declining_customers: HashSet<String>,
    /// How far the account's clock runs ahead of the machine's (`Standin::advance_clock`).
    clock_offset: i64,
    /// While set, events are recorded but never queued for delivery (a test hook for lost
    /// webhooks).
    pub(crate) drop_webhooks: bool,
    outbox: Vec<Outgoing>,
    webhook: Option<Endpoint>,
}

impl Account {
    pub(crate) fn new(
        prices: &[PriceSpec],
        promotion_codes: &[PromotionCodeSpec],
        public_base: String,
        webhook: Option<Endpoint>,
    ) -> Result<Self, String> {
        let mut ids = IdGen::from_entropy();
        let catalog = Catalog::new(prices, &mut ids, clock::now())?;
        let portal_configuration = ids.id("bpc_", 24);
        let tax_rate = objects::tax_rate(&ids.id("txr_", 24), clock::now(), crate::totals::TAX_PERCENT);
        let mut account = Self {
            ids,
            public_base,
            catalog,
            portal_configuration,
            customers: Objects::default(),
            sessions: Objects::default(),
            session_details: HashMap::new(),
            subscriptions: Objects::default(),
            invoices: Objects::default(),
            payment_intents: Objects::default(),
            payment_methods: Objects::default(),
            portal_sessions: Objects::default(),
            subscription_schedules: Objects::default(),
            coupons: Objects::default(),
            promotion_codes: Objects::default(),
            discounts: Objects::default(),
            tax_rate,
            events: Objects::default(),
            declining_customers: HashSet::new(),
            clock_offset: 0,
            drop_webhooks: false,
            outbox: Vec::new(),
            webhook,
        };
        account.seed_promotion_codes(promotion_codes)?;
        Ok(account)
    }

    /// The account's now: what new objects and events are dated, sessions expire and
    /// idempotency keys age by.
    pub(crate) fn now(&self) -> i64 {
        clock::now().saturating_add(self.clock_offset)
    }

    pub(crate) fn advance_clock(&mut self, secs: i64) {
        self.clock_offset = self.clock_offset.saturating_add(secs);
    }

    pub(crate) fn set_webhook(&mut self, webhook: Option<Endpoint>) {
        self.webhook = webhook;
    }

    /// Events created since the last call, bound for the endpoint configured when they were
    /// created. The caller hands them to the deliverer after releasing the lock on the account.
    pub(crate) fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    /// An existing event addressed to the endpoint configured now, for a redelivery.
    pub(crate) fn redelivery(&self, event_id: &str) -> Result<Outgoing, String> {
        let event = self.events.get(event_id).ok_or_else(|| format!("no such event: {event_id}"))?;
        let endpoint = self.webhook.clone().ok_or("no webhook endpoint is configured")?;
        Ok(outgoing(event, endpoint))
    }

    /// Records an event for a change and queues it for the webhook endpoint, if any and
    /// deliveries are not being dropped.
    pub(crate) fn emit(&mut self, kind: &str, object: &Value, previous_attributes: Option<Value>, origin: &Origin) {
        let id = self.ids.id("evt_", 24);
        let event = objects::event(NewEvent {
            id: &id,
            kind,
            created: self.now(),
            object: object.clone(),
            previous_attributes,
            request_id: origin.request_id.as_deref(),
            idempotency_key: origin.idempotency_key.as_deref(),
            pending_webhooks: u32::from(self.webhook.is_some()),
        });
        if let Some(endpoint) = self.webhook.as_ref().filter(|_| !self.drop_webhooks) {
            self.outbox.push(outgoing(&event, endpoint.clone()));
        }
        self.events.push(event);
    }

    /// Applies `change` to a stored object; returns it as it was before and after.
    pub(crate) fn modify(
        &mut self,
        collection: fn(&mut Account) -> &mut Objects,
        id: &str,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Option<(Value, Value)> {
        let object = collection(self).get_mut(id)?;
        let before = object.clone();
        if let Value::Object(map) = object {
            change(map);
        }
        Some((before, object.clone()))
    }

    /// `modify`, then, when anything changed, emits `kind` with Stripe's
    /// `previous_attributes` (the old values of the changed top-level fields).
    pub(crate) fn update(
        &mut self,
        collection: fn(&mut Account) -> &mut Objects,
        id: &str,
        kind: &str,
        origin: &Origin,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Option<Value> {
        let (before, after) = self.modify(collection, id, change)?;
        if let Some(previous) = previous_attributes(&before, &after) {
            self.emit(kind, &after, Some(previous), origin);
        }
        Some(after)
    }

    pub(crate) fn create_customer(&mut self, fields: CustomerFields, origin: &Origin) -> Value {
        let id = self.ids.id("cus_", 14);
        let invoice_prefix = self.ids.hex_upper(8);
        let customer = objects::customer(NewCustomer {
            id: &id,
            created: self.now(),
            name: fields.name.as_deref(),
            email: fields.email.as_deref(),
            description: fields.description.as_deref(),
            phone: fields.phone.as_deref(),
            metadata: fields.metadata.into_map(),
            invoice_prefix: &invoice_prefix,
        });
        self.customers.push(customer.clone());
        self.emit("customer.created", &customer, None, origin);
        customer
    }

    /// Stripe emits no event for portal sessions.
    pub(crate) fn create_portal_session(&mut self, customer: &str, return_url: Option<&str>) -> Value {
        let id = self.ids.id("bps_", 24);
        let url = format!("{}/portal/{id}", self.public_base);
        let session = objects::portal_session(&id, self.now(), customer, return_url, &url, &self.portal_configuration);
        self.portal_sessions.push(session.clone());
        session
    }

    /// Any object by id, for `expand[]`: Stripe's ids say what they point at.
    pub(crate) fn find(&self, id: &str) -> Option<Value> {
        if let Some(price) = self.catalog.price(id) {
            return Some(objects::price(price));
        }
        if let Some(product) = self.catalog.product(id) {
            return Some(objects::product(product));
        }
        if self.tax_rate["id"] == id {
            return Some(self.tax_rate.clone());
        }
        [
            &self.customers,
            &self.subscriptions,
            &self.invoices,
            &self.payment_intents,
            &self.payment_methods,
            &self.sessions,
            &self.portal_sessions,
            &self.subscription_schedules,
            &self.coupons,
            &self.promotion_codes,
            &self.discounts,
            &self.events,
        ]
        .into_iter()
        .find_map(|objects| objects.get(id).cloned())
    }
}

/// The customer fields the API and Checkout can set.
#[derive(Default)]
pub(crate) struct CustomerFields {
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) metadata: MetadataUpdate,
}

/// One line of a Checkout Session: a catalog price and how many of it.
#[derive(Clone)]
pub(crate) struct LineItem {
    pub(crate) price: String,
    pub(crate) quantity: u64,
}

/// What a session keeps beyond its API object: the line items (listed by
/// `/line_items` and shown on the hosted page) and what it passes on to what it creates.
pub(crate) struct SessionDetails {
    pub(crate) items: Vec<(String, LineItem)>,
    pub(crate) subscription_metadata: Map<String, Value>,
    pub(crate) payment_intent_metadata: Map<String, Value>,
    pub(crate) invoice_data: Option<InvoiceData>,
    pub(crate) trial: Option<TrialRequest>,
    /// The coupon (and code) `discounts[0]` named, checked at creation.
    pub(crate) discount: Option<Redemption>,
    pub(crate) automatic_tax: bool,
    /// Whether Pay records the test billing address on the customer.
    pub(crate) collects_address: bool,
}

/// `subscription_data[trial_period_days]` and what ends the trial without a card.
#[derive(Clone, Debug)]
pub(crate) struct TrialRequest {
    pub(crate) days: u64,
    /// `cancel`, `pause` or `create_invoice`.
    pub(crate) missing_payment_method: &'static str,
}

fn outgoing(event: &Value, endpoint: Endpoint) -> Outgoing {
    Outgoing {
        event_id: event["id"].as_str().unwrap_or_default().to_string(),
        event_type: event["type"].as_str().unwrap_or_default().to_string(),
        // Stripe sends events pretty-printed; the signature covers these exact bytes.
        body: serde_json::to_string_pretty(event).unwrap_or_default(),
        endpoint,
    }
}

fn previous_attributes(before: &Value, after: &Value) -> Option<Value> {
    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        return None;
    };
    let changed: Map<String, Value> =
        before.iter().filter(|(key, value)| after.get(*key) != Some(value)).map(|(k, v)| (k.clone(), v.clone())).collect();
    (!changed.is_empty()).then_some(Value::Object(changed))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn previous_attributes_lists_only_changed_fields() {
        let before = json!({"id": "sub_1", "cancel_at_period_end": false, "metadata": {"a": "1"}});
        let after = json!({"id": "sub_1", "cancel_at_period_end": true, "metadata": {"a": "1"}});
        assert_eq!(previous_attributes(&before, &after), Some(json!({"cancel_at_period_end": false})));
        assert_eq!(previous_attributes(&before, &before), None);
    }
}
