//! Subscriptions after checkout: plan and quantity changes with prorations, discounts and
//! automatic tax, scheduled and immediate cancellation, and the end of a billing period.
//! What they bill is invoiced by `invoices`.

use serde_json::{Map, Value, json};

use crate::account::{Account, Origin};
use crate::catalog::{Price, full_amount};
use crate::clock;
use crate::coupons::{DiscountChoice, DiscountHolder};
use crate::error::StripeApiError;
use crate::invoices::{BillingLine, InvoiceSpec};
use crate::objects::{self, NewSubscriptionItem};
use crate::params::MetadataUpdate;
use crate::totals::TotalsLine;

/// `trial_end` of a subscription update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrialEnd {
    Now,
    At(i64),
}

/// A validated `POST /v1/subscriptions/{id}`.
#[derive(Default)]
pub(crate) struct SubscriptionChange {
    pub(crate) cancel_at_period_end: Option<bool>,
    pub(crate) items: Vec<ItemChange>,
    pub(crate) proration_behavior: Option<&'static str>,
    /// The moment prorations are computed for (a preview's, so the amount agreed is charged).
    pub(crate) proration_date: Option<i64>,
    /// `payment_behavior=pending_if_incomplete`: a change whose invoice is not paid is not applied.
    pub(crate) pending_if_incomplete: bool,
    pub(crate) metadata: MetadataUpdate,
    pub(crate) trial_end: Option<TrialEnd>,
    /// `discounts`: the subscription's new discounts (`Some(empty)` removes them all), each
    /// with its parameter name.
    pub(crate) discounts: Option<Vec<(String, DiscountChoice)>>,
    pub(crate) automatic_tax: Option<bool>,
}

/// `items[i]`: change the price or quantity of item `id`, or add an item when `id` is absent.
pub(crate) struct ItemChange {
    /// The parameter's name (`items[0]`), for errors.
    pub(crate) param: String,
    pub(crate) id: Option<String>,
    pub(crate) price: Option<String>,
    pub(crate) quantity: Option<u64>,
}

impl Account {
    pub(crate) fn update_subscription(&mut self, id: &str, change: SubscriptionChange, origin: &Origin) -> Result<Value, StripeApiError> {
        let current = self.subscriptions.get(id).cloned().ok_or_else(|| StripeApiError::no_such(404, "subscription", id, "id"))?;
        if current["status"] == "canceled" && (change.cancel_at_period_end.is_some() || !change.items.is_empty()) {
            return Err(StripeApiError::bad_request("A canceled subscription can only update its cancellation_details and metadata."));
        }
        if change.cancel_at_period_end.is_some()
            && let Some(schedule) = current["schedule"].as_str()
        {
            return Err(StripeApiError::bad_request(format!(
                "The subscription is managed by the subscription schedule `{schedule}`, and updating any cancelation behavior directly is not allowed. Please update the schedule instead."
            )));
        }
        if let Some(end) = change.trial_end {
            self.check_trial_end(&current, end)?;
            if end == TrialEnd::Now
                && change.pending_if_incomplete
                && let Some(pending) = self.end_trial_pending(id, origin)
            {
                return Ok(pending);
            }
        }
        let customer = current["customer"].as_str().unwrap_or_default().to_string();
        let redemptions = match &change.discounts {
            Some(choices) => {
                let currency = current["currency"].as_str().unwrap_or("usd");
                let priced = self.priced_items(&items_of(&current));
                let lines: Vec<TotalsLine> = priced.iter().map(|(product, amount)| TotalsLine { product, amount: *amount }).collect();
                let checked: Result<Vec<_>, _> =
                    choices.iter().map(|(param, choice)| self.redeemable(choice, param, Some(&customer), &lines, currency)).collect();
                Some(checked?)
            }
            None => None,
        };
        let now = self.now();
        let prorate_at = change.proration_date.unwrap_or(now);
        let old_items = items_of(&current);
        let mut items = self.changed_items(&current, &change.items)?;
        let old_interval = interval_of(&old_items);
        let new_interval = interval_of(&items);
        // A trial costs nothing, so changes during one bill nothing and keep the trial's period.
        let trialing = current["status"] == "trialing";
        // Switching between monthly and yearly starts a new billing period today, which
        // Stripe always invoices at once; otherwise only `always_invoice` bills the change.
        let reset = !trialing && old_interval != new_interval;
        if reset {
            let period = (now, clock::add_interval(now, &new_interval));
            for item in &mut items {
                set_period(item, period);
            }
        }
        let behavior = change.proration_behavior.unwrap_or("create_prorations");
        let lines = if !trialing && (reset || behavior == "always_invoice") {
            self.proration_lines(&old_items, &items, reset, behavior != "none", prorate_at)
        } else {
            Vec::new()
        };
        let amount: i64 = lines.iter().map(|l| self.line_amount(l)).sum();
        let paid = amount <= 0 || !self.declining_customers.contains(&customer);
        if !paid && change.pending_if_incomplete {
            return Ok(self.leave_pending(id, &customer, items, lines, now, origin));
        }
        let invoice_id = (amount > 0).then(|| self.ids.id("in_", 24));
        let holder = DiscountHolder { customer: Some(&customer), subscription: Some(id), checkout_session: None };
        let discount_ids: Option<Vec<String>> =
            redemptions.map(|redemptions| redemptions.iter().map(|r| self.redeem(r, holder, now, origin)).collect());
        if amount < 0 {
            // A net credit goes to the customer's balance, as with Stripe's prorations.
            self.modify(
                |s| &mut s.customers,
                &customer,
                |c| {
                    let balance = c.get("balance").and_then(Value::as_i64).unwrap_or(0);
                    c.insert("balance".into(), json!(balance + amount));
                },
            );
        }

        let updated = self
            .update(|s| &mut s.subscriptions, id, "customer.subscription.updated", origin, |s| {
                if let Some(data) = s.get_mut("items").and_then(|i| i.get_mut("data")) {
                    *data = Value::Array(items);
                }
                if reset {
                    s.insert("billing_cycle_anchor".into(), json!(now));
                }
                if let Some(invoice) = &invoice_id {
                    s.insert("latest_invoice".into(), json!(invoice));
                }
                if !paid {
                    s.insert("status".into(), json!("past_due"));
                }
                if let Some(cancel) = change.cancel_at_period_end {
                    let period_end = s["items"]["data"][0]["current_period_end"].clone();
                    s.insert("cancel_at_period_end".into(), json!(cancel));
                    s.insert("cancel_at".into(), if cancel { period_end } else { Value::Null });
                    s.insert("canceled_at".into(), if cancel { json!(now) } else { Value::Null });
                    s.insert(
                        "cancellation_details".into(),
                        json!({"comment": null, "feedback": null, "reason": if cancel { json!("cancellation_requested") } else { Value::Null }}),
                    );
                }
                if let Some(Value::Object(metadata)) = s.get_mut("metadata") {
                    change.metadata.apply(metadata);
                }
                if let Some(discounts) = discount_ids {
                    s.insert("discounts".into(), json!(discounts));
                }
                if let Some(enabled) = change.automatic_tax {
                    s.insert("automatic_tax".into(), objects::subscription_automatic_tax(enabled));
                }
            })
            .unwrap_or(current.clone());
        if let Some(invoice_id) = invoice_id {
            let mut spec = InvoiceSpec::paid_at(now, invoice_id, customer, Some(id.to_string()), lines, "subscription_update");
            spec.paid = paid;
            self.create_invoice(spec, origin);
        }
        match change.trial_end {
            Some(end) => {
                self.change_trial_end(id, end, origin);
                Ok(self.subscriptions.get(id).cloned().unwrap_or(updated))
            }
            None => Ok(updated),
        }
    }

    /// Each item's product and full amount, as the discount checks see a subscription.
    pub(crate) fn priced_items(&self, items: &[Value]) -> Vec<(String, i64)> {
        items
            .iter()
            .filter_map(|item| {
                let (price, quantity, _) = self.item_parts(item)?;
                Some((price.product.clone(), full_amount(price, quantity)))
            })
            .collect()
    }

    /// A change whose payment failed under `pending_if_incomplete`: the items stay as they
    /// were, the failed invoice stays open, and the change waits in `pending_update` (Stripe
    /// drops it after 23 hours unless the invoice is paid).
    pub(crate) fn leave_pending(
        &mut self,
        id: &str,
        customer: &str,
        items: Vec<Value>,
        lines: Vec<BillingLine>,
        now: i64,
        origin: &Origin,
    ) -> Value {
        let invoice_id = self.ids.id("in_", 24);
        let mut spec =
            InvoiceSpec::paid_at(now, invoice_id.clone(), customer.to_string(), Some(id.to_string()), lines, "subscription_update");
        spec.paid = false;
        self.create_invoice(spec, origin);
        let pending = objects::pending_update(now + 23 * 3600, items);
        let updated = self.update(
            |s| &mut s.subscriptions,
            id,
            "customer.subscription.updated",
            origin,
            |s| {
                s.insert("latest_invoice".into(), json!(invoice_id));
                s.insert("pending_update".into(), pending);
            },
        );
        updated.unwrap_or_default()
    }

    /// The subscription's items with `changes` applied, validated like Stripe.
    pub(crate) fn changed_items(&mut self, subscription: &Value, changes: &[ItemChange]) -> Result<Vec<Value>, StripeApiError> {
        let subscription_id = subscription["id"].as_str().unwrap_or_default().to_string();
        let currency = subscription["currency"].as_str().unwrap_or_default();
        let period = current_period(subscription);
        let mut items = items_of(subscription);
        for change in changes {
            let price_param = format!("{}[price]", change.param);
            let price = match &change.price {
                Some(id) => Some(self.catalog.price(id).ok_or_else(|| StripeApiError::no_such(400, "price", id, &price_param))?),
                None => None,
            };
            if let Some(price) = price {
                if price.interval.is_none() {
                    return Err(StripeApiError::invalid(
                        &price_param,
                        "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
                    ));
                }
                if price.currency != currency {
                    return Err(StripeApiError::invalid(
                        &price_param,
                        format!("The price specified uses currency `{}`, but this subscription uses `{currency}`.", price.currency),
                    ));
                }
            }
            let (position, item_id, created, price, quantity) = match &change.id {
                Some(item_id) => {
                    let position = items
                        .iter()
                        .position(|i| i["id"] == item_id.as_str())
                        .ok_or_else(|| StripeApiError::no_such(400, "subscription item", item_id, &format!("{}[id]", change.param)))?;
                    let existing = &items[position];
                    let price = match price {
                        Some(price) => price,
                        None => existing["price"]["id"].as_str().and_then(|p| self.catalog.price(p)).ok_or_else(|| {
                            StripeApiError::invalid(&price_param, "This subscription item's price is no longer available.")
                        })?,
                    };
                    let quantity = change.quantity.or(existing["quantity"].as_u64()).unwrap_or(1);
                    (Some(position), item_id.clone(), existing["created"].as_i64().unwrap_or_default(), price, quantity)
                }
                None => {
                    let price = price.ok_or_else(|| StripeApiError::missing(&price_param))?;
                    (None, self.ids.id("si_", 14), self.now(), price, change.quantity.unwrap_or(1))
                }
            };
            let item = objects::subscription_item(NewSubscriptionItem {
                id: &item_id,
                subscription: &subscription_id,
                price,
                quantity,
                created,
                period,
            });
            match position {
                Some(position) => items[position] = item,
                None => items.push(item),
            }
        }
        Ok(items)
    }

    /// Lines billing a change of items: credit for the unused time of each changed old item,
    /// then the new items' charge, prorated to the rest of the period or (after a period
    /// reset) in full for the new period.
    pub(crate) fn proration_lines(&self, old: &[Value], new: &[Value], reset: bool, credit: bool, now: i64) -> Vec<BillingLine> {
        let mut lines = Vec::new();
        let date = clock::date(now);
        let unchanged = |item: &Value| {
            old.iter().any(|o| o["id"] == item["id"] && o["price"]["id"] == item["price"]["id"] && o["quantity"] == item["quantity"])
        };
        for item in new.iter().filter(|item| reset || !unchanged(item)) {
            let previous = old.iter().find(|o| o["id"] == item["id"]);
            if credit && let Some((price, quantity, period)) = previous.and_then(|o| self.item_parts(o)) {
                let unused = -prorate(full_amount(price, quantity), period, now);
                let description = format!("Unused time on {} after {date}", describe_product(price, quantity));
                lines.push(BillingLine::proration(price, quantity, item_id(item), (now, period.1), unused, description));
            }
            let Some((price, quantity, period)) = self.item_parts(item) else {
                continue;
            };
            if reset {
                lines.push(BillingLine::full(&price.id, quantity, Some(item_id(item).to_string()), period));
            } else {
                let remaining = prorate(full_amount(price, quantity), period, now);
                let description = format!("Remaining time on {} after {date}", describe_product(price, quantity));
                lines.push(BillingLine::proration(price, quantity, item_id(item), (now, period.1), remaining, description));
            }
        }
        lines
    }

    fn item_parts(&self, item: &Value) -> Option<(&Price, u64, (i64, i64))> {
        let price = self.catalog.price(item["price"]["id"].as_str()?)?;
        Some((price, item["quantity"].as_u64().unwrap_or(1), (item_start(item), item_end(item))))
    }

    /// `DELETE /v1/subscriptions/{id}`: ends the subscription now.
    pub(crate) fn cancel_subscription(&mut self, id: &str, origin: &Origin) -> Result<Value, StripeApiError> {
        let current = self.subscriptions.get(id).ok_or_else(|| StripeApiError::no_such(404, "subscription", id, "id"))?;
        if current["status"] == "canceled" {
            return Err(StripeApiError::bad_request(format!("This subscription ({id}) has already been canceled.")));
        }
        let now = self.now();
        let (_, canceled) = self
            .modify(|s| &mut s.subscriptions, id, |s| end_subscription(s, now, json!(now)))
            .ok_or_else(|| StripeApiError::no_such(404, "subscription", id, "id"))?;
        self.emit("customer.subscription.deleted", &canceled, None, origin);
        Ok(canceled)
    }

    /// The current period ends: a subscription set to cancel at period end is canceled;
    /// otherwise it renews and its next invoice is charged, succeeding or failing.
    pub(crate) fn advance_period(&mut self, id: &str, payment_succeeds: bool) -> Result<(), String> {
        let current = self.subscriptions.get(id).cloned().ok_or_else(|| format!("no such subscription: {id}"))?;
        if current["status"] == "canceled" {
            return Err(format!("subscription {id} is canceled"));
        }
        let origin = Origin::default();
        let (start, end) = current_period(&current);
        if current["cancel_at_period_end"] == true {
            let canceled_at = current["canceled_at"].clone();
            if let Some((_, canceled)) = self.modify(|s| &mut s.subscriptions, id, |s| end_subscription(s, end, canceled_at)) {
                self.emit("customer.subscription.deleted", &canceled, None, &origin);
            }
            return Ok(());
        }
        match current["status"].as_str() {
            Some("paused") => return Err(format!("subscription {id} is paused")),
            Some("trialing") => {
                self.end_trial(id, end, payment_succeeds, "subscription_cycle", &origin);
                return Ok(());
            }
            _ => {}
        }
        let mut items = self.items_for_period(&current, end);
        let next = (end, clock::add_interval(end, &interval_of(&items)));
        for item in &mut items {
            set_period(item, next);
        }
        let lines: Vec<BillingLine> = items
            .iter()
            .filter_map(|item| {
                let quantity = item["quantity"].as_u64().unwrap_or(1);
                Some(BillingLine::full(item["price"]["id"].as_str()?, quantity, Some(item_id(item).to_string()), next))
            })
            .collect();
        let invoice_id = self.ids.id("in_", 24);
        self.schedule_moved_to(&current, next, &origin);
        self.update(
            |s| &mut s.subscriptions,
            id,
            "customer.subscription.updated",
            &origin,
            |s| {
                if let Some(data) = s.get_mut("items").and_then(|i| i.get_mut("data")) {
                    *data = Value::Array(items);
                }
                s.insert("latest_invoice".into(), json!(invoice_id));
                s.insert("status".into(), json!(if payment_succeeds { "active" } else { "past_due" }));
            },
        );
        self.create_invoice(
            InvoiceSpec {
                id: invoice_id,
                customer: current["customer"].as_str().unwrap_or_default().to_string(),
                subscription: Some(id.to_string()),
                lines,
                billing_reason: "subscription_cycle",
                period: (start, end),
                paid: payment_succeeds,
                created: end,
                description: None,
                metadata: Map::new(),
                discounts: Vec::new(),
                automatic_tax: None,
                preview_coupons: None,
            },
            &origin,
        );
        Ok(())
    }
}

pub(crate) fn end_subscription(s: &mut serde_json::Map<String, Value>, ended_at: i64, canceled_at: Value) {
    s.insert("status".into(), json!("canceled"));
    s.insert("ended_at".into(), json!(ended_at));
    s.insert("canceled_at".into(), canceled_at);
    s.insert("cancel_at_period_end".into(), json!(false));
    s.insert("cancellation_details".into(), json!({"comment": null, "feedback": null, "reason": "cancellation_requested"}));
}

pub(crate) fn items_of(subscription: &Value) -> Vec<Value> {
    subscription["items"]["data"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn item_id(item: &Value) -> &str {
    item["id"].as_str().unwrap_or_default()
}

fn item_start(item: &Value) -> i64 {
    item["current_period_start"].as_i64().unwrap_or_default()
}

fn item_end(item: &Value) -> i64 {
    item["current_period_end"].as_i64().unwrap_or_default()
}

/// Items share one period; the first item's is the subscription's.
pub(crate) fn current_period(subscription: &Value) -> (i64, i64) {
    let first = &subscription["items"]["data"][0];
    (item_start(first), item_end(first))
}

pub(crate) fn interval_of(items: &[Value]) -> String {
    items.first().and_then(|i| i["price"]["recurring"]["interval"].as_str()).unwrap_or("month").to_string()
}

pub(crate) fn set_period(item: &mut Value, (start, end): (i64, i64)) {
    if let Value::Object(item) = item {
        item.insert("current_period_start".into(), json!(start));
        item.insert("current_period_end".into(), json!(end));
    }
}

/// `amount` scaled to the part of `period` left after `now`, rounded to the nearest unit.
fn prorate(amount: i64, (start, end): (i64, i64), now: i64) -> i64 {
    let length = (end - start).max(1);
    let left = (end - now).clamp(0, length);
    ((amount as i128 * left as i128 + length as i128 / 2) / length as i128) as i64
}

fn describe_product(price: &Price, quantity: u64) -> String {
    if quantity == 1 { price.product_name.clone() } else { format!("{quantity} × {}", price.product_name) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proration_scales_to_time_left() {
        assert_eq!(prorate(3000, (0, 30), 10), 2000);
        assert_eq!(prorate(3000, (0, 30), 0), 3000);
        assert_eq!(prorate(3000, (0, 30), 40), 0);
        assert_eq!(prorate(1000, (0, 3), 1), 667);
    }
}
