//! Free trials: moving a trialing subscription's `trial_end`, ending the trial (at its end or
//! at once with `trial_end=now`), and the reminder Stripe sends three days before the end.
//! At the end the first full period is invoiced and charged to the saved card; without a card
//! `trial_settings.end_behavior.missing_payment_method` decides: `cancel`, `pause`, or
//! `create_invoice` (an open invoice, the subscription `past_due`).

use serde_json::{Value, json};

use crate::account::{Account, Origin};
use crate::billing::{self, TrialEnd};
use crate::clock;
use crate::error::StripeApiError;
use crate::invoices::{BillingLine, InvoiceSpec};

impl Account {
    /// Checks a `trial_end` change before anything of the update is applied.
    pub(crate) fn check_trial_end(&self, subscription: &Value, end: TrialEnd) -> Result<(), StripeApiError> {
        if subscription["status"] != "trialing" {
            return Err(StripeApiError::invalid("trial_end", "The Stripe stand-in changes `trial_end` of trialing subscriptions only."));
        }
        match end {
            TrialEnd::At(at) if at <= self.now() => {
                Err(StripeApiError::invalid("trial_end", "Invalid timestamp: must be an integer Unix timestamp in the future."))
            }
            _ => Ok(()),
        }
    }

    /// Applies a checked `trial_end`: the trial and its period end then instead, or it ends now.
    pub(crate) fn change_trial_end(&mut self, id: &str, end: TrialEnd, origin: &Origin) {
        match end {
            TrialEnd::Now => {
                let now = self.now();
                self.end_trial(id, now, true, "subscription_update", origin);
            }
            TrialEnd::At(at) => {
                self.update(
                    |s| &mut s.subscriptions,
                    id,
                    "customer.subscription.updated",
                    origin,
                    |s| {
                        s.insert("trial_end".into(), json!(at));
                        if let Some(Value::Array(items)) = s.get_mut("items").and_then(|i| i.get_mut("data")) {
                            for item in items {
                                item["current_period_end"] = json!(at);
                            }
                        }
                    },
                );
            }
        }
    }

    /// Whether the subscription's customer can pay now: a saved card, not declining.
    pub(crate) fn can_pay(&self, subscription: &Value) -> bool {
        let customer = subscription["customer"].as_str().unwrap_or_default();
        let has_card = subscription["default_payment_method"].is_string()
            || self.customers.get(customer).is_some_and(|c| c["invoice_settings"]["default_payment_method"].is_string());
        has_card && !self.declining_customers.contains(customer)
    }

    /// The subscription's items moved to the first full period starting `at`, and its lines.
    pub(crate) fn first_period(&self, subscription: &Value, at: i64) -> (Vec<Value>, Vec<BillingLine>) {
        let mut items = billing::items_of(subscription);
        let next = (at, clock::add_interval(at, &billing::interval_of(&items)));
        for item in &mut items {
            billing::set_period(item, next);
        }
        let lines = items
            .iter()
            .filter_map(|item| {
                let quantity = item["quantity"].as_u64().unwrap_or(1);
                Some(BillingLine::full(item["price"]["id"].as_str()?, quantity, Some(billing::item_id(item).to_string()), next))
            })
            .collect();
        (items, lines)
    }

    /// `trial_end=now` with `payment_behavior=pending_if_incomplete` when the first period
    /// cannot be paid: its invoice stays open and the trial goes on, the end pending.
    pub(crate) fn end_trial_pending(&mut self, id: &str, origin: &Origin) -> Option<Value> {
        let current = self.subscriptions.get(id).cloned()?;
        if self.can_pay(&current) {
            return None;
        }
        let customer = current["customer"].as_str().unwrap_or_default().to_string();
        let now = self.now();
        let (items, lines) = self.first_period(&current, now);
        Some(self.leave_pending(id, &customer, items, lines, now, origin))
    }

    /// Ends the trial of subscription `id` at `at`. With a card the first full period starts
    /// and is charged (`payment_succeeds: false` or a declining customer leave it `past_due`);
    /// without one the trial settings decide.
    pub(crate) fn end_trial(&mut self, id: &str, at: i64, payment_succeeds: bool, billing_reason: &'static str, origin: &Origin) {
        let Some(current) = self.subscriptions.get(id).cloned() else { return };
        let customer = current["customer"].as_str().unwrap_or_default().to_string();
        let has_card = current["default_payment_method"].is_string()
            || self.customers.get(&customer).is_some_and(|c| c["invoice_settings"]["default_payment_method"].is_string());
        match current["trial_settings"]["end_behavior"]["missing_payment_method"].as_str() {
            Some("cancel") if !has_card => {
                if let Some((_, canceled)) = self.modify(|s| &mut s.subscriptions, id, |s| billing::end_subscription(s, at, json!(at))) {
                    self.emit("customer.subscription.deleted", &canceled, None, origin);
                }
                return;
            }
            Some("pause") if !has_card => {
                let paused = self.update(
                    |s| &mut s.subscriptions,
                    id,
                    "customer.subscription.updated",
                    origin,
                    |s| {
                        s.insert("status".into(), json!("paused"));
                    },
                );
                if let Some(paused) = paused {
                    self.emit("customer.subscription.paused", &paused, None, origin);
                }
                return;
            }
            _ => {}
        }
        let (start, _) = billing::current_period(&current);
        let (items, lines) = self.first_period(&current, at);
        let paid = payment_succeeds && self.can_pay(&current);
        let invoice_id = self.ids.id("in_", 24);
        self.update(
            |s| &mut s.subscriptions,
            id,
            "customer.subscription.updated",
            origin,
            |s| {
                if let Some(data) = s.get_mut("items").and_then(|i| i.get_mut("data")) {
                    *data = Value::Array(items);
                }
                s.insert("trial_end".into(), json!(at));
                s.insert("billing_cycle_anchor".into(), json!(at));
                s.insert("latest_invoice".into(), json!(invoice_id));
                s.insert("status".into(), json!(if paid { "active" } else { "past_due" }));
            },
        );
        self.create_invoice(
            InvoiceSpec {
                period: (start, at),
                paid,
                created: at,
                ..InvoiceSpec::paid_at(at, invoice_id, customer, Some(id.to_string()), lines, billing_reason)
            },
            origin,
        );
    }

    /// `customer.subscription.trial_will_end` for a trialing subscription, which Stripe sends
    /// three days before the trial ends.
    pub(crate) fn trial_will_end(&mut self, id: &str) -> Result<(), String> {
        let subscription = self.subscriptions.get(id).cloned().ok_or_else(|| format!("no such subscription: {id}"))?;
        if subscription["status"] != "trialing" {
            return Err(format!("subscription {id} is not trialing"));
        }
        self.emit("customer.subscription.trial_will_end", &subscription, None, &Origin::default());
        Ok(())
    }
}
