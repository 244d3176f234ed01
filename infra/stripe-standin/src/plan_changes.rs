//! What plan changes need beyond a subscription update: the invoice preview
//! (`POST /v1/invoices/create_preview`) and subscription schedules, which Stripe recommends
//! for a change that takes effect at the end of the period.

use serde_json::{Value, json};

use crate::account::{Account, Origin};
use crate::billing::{self, ItemChange};
use crate::clock;
use crate::coupons::DiscountChoice;
use crate::error::StripeApiError;
use crate::invoices::{BillingLine, InvoiceSpec};
use crate::objects::{self, NewSchedule, NewSubscriptionItem, SchedulePhase};
use crate::totals::TotalsLine;

/// A validated `POST /v1/invoices/create_preview` for a change of a subscription.
pub(crate) struct PreviewRequest {
    pub(crate) subscription: String,
    pub(crate) items: Vec<ItemChange>,
    pub(crate) proration_date: Option<i64>,
    pub(crate) proration_behavior: Option<&'static str>,
    /// `automatic_tax[enabled]`; `None`: as the subscription has it.
    pub(crate) automatic_tax: Option<bool>,
    /// `subscription_details[trial_end]=now`: the first full period of the current items,
    /// billed now.
    pub(crate) trial_end_now: bool,
    /// `discounts`: the invoice's discounts instead of the subscription's, checked as a
    /// subscription update would check them, redeemed by nothing.
    pub(crate) discounts: Option<Vec<(String, DiscountChoice)>>,
}

/// `phases[i]` of a schedule update.
pub(crate) struct PhaseRequest {
    pub(crate) items: Vec<(String, u64)>,
    pub(crate) start: Option<i64>,
    pub(crate) end: Option<i64>,
}

impl Account {
    /// The invoice the change would produce, neither stored nor charged: with
    /// `always_invoice` (or a new billing interval) the prorations billed now; otherwise the
    /// next renewal invoice with the prorations added to it. During a trial the change costs
    /// nothing: the preview bills the changed items at zero for the rest of the trial.
    pub(crate) fn preview_invoice(&mut self, request: PreviewRequest) -> Result<Value, StripeApiError> {
        let id = request.subscription.as_str();
        let current =
            self.subscriptions.get(id).cloned().ok_or_else(|| StripeApiError::no_such(400, "subscription", id, "subscription"))?;
        if current["status"] == "canceled" {
            return Err(StripeApiError::invalid("subscription", "You cannot preview an invoice for a canceled subscription."));
        }
        let now = self.now();
        let prorate_at = request.proration_date.unwrap_or(now);
        let old_items = billing::items_of(&current);
        let mut items = self.changed_items(&current, &request.items)?;
        let new_interval = billing::interval_of(&items);
        let trialing = current["status"] == "trialing";
        if request.trial_end_now && !trialing {
            return Err(StripeApiError::invalid("subscription_details[trial_end]", "The subscription is not trialing."));
        }
        let reset = !trialing && billing::interval_of(&old_items) != new_interval;
        if reset {
            for item in &mut items {
                billing::set_period(item, (prorate_at, clock::add_interval(prorate_at, &new_interval)));
            }
        }
        let behavior = request.proration_behavior.unwrap_or("create_prorations");
        let trial_lines = || {
            let (_, trial_end) = billing::current_period(&current);
            let priced = items.iter().filter_map(|item| Some((self.catalog.price(item["price"]["id"].as_str()?)?, item)));
            priced
                .map(|(price, item)| {
                    let quantity = item["quantity"].as_u64().unwrap_or(1);
                    BillingLine::trial(price, quantity, billing::item_id(item), (prorate_at, trial_end))
                })
                .collect::<Vec<_>>()
        };
        let mut lines = if request.trial_end_now {
            self.first_period(&current, now).1
        } else if trialing {
            trial_lines()
        } else {
            self.proration_lines(&old_items, &items, reset, behavior != "none", prorate_at)
        };
        let billed_now = trialing || reset || behavior == "always_invoice";
        let (created, period) = if billed_now {
            (now, (now, now))
        } else {
            let (start, end) = billing::current_period(&current);
            let next = (end, clock::add_interval(end, &new_interval));
            lines.extend(items.iter().filter_map(|item| {
                let quantity = item["quantity"].as_u64().unwrap_or(1);
                Some(BillingLine::full(item["price"]["id"].as_str()?, quantity, Some(billing::item_id(item).to_string()), next))
            }));
            (end, (start, end))
        };
        let customer_id = current["customer"].as_str().unwrap_or_default().to_string();
        let preview_coupons = match &request.discounts {
            Some(choices) => {
                let currency = current["currency"].as_str().unwrap_or("usd");
                let priced = self.priced_items(&items);
                let totals: Vec<TotalsLine> = priced.iter().map(|(product, amount)| TotalsLine { product, amount: *amount }).collect();
                let checked: Result<Vec<_>, _> =
                    choices.iter().map(|(param, choice)| self.redeemable(choice, param, Some(&customer_id), &totals, currency)).collect();
                Some(checked?.into_iter().map(|redemption| redemption.coupon).collect())
            }
            None => None,
        };
        let customer = self.customers.get(&customer_id).cloned().unwrap_or_else(|| json!({"id": customer_id}));
        let spec = InvoiceSpec {
            id: self.ids.id("upcoming_in_", 24),
            customer: customer_id,
            subscription: Some(id.to_string()),
            lines,
            billing_reason: if billed_now { "subscription_update" } else { "upcoming" },
            period,
            paid: false,
            created,
            description: None,
            metadata: Default::default(),
            discounts: Vec::new(),
            automatic_tax: request.automatic_tax,
            preview_coupons,
        };
        let mut invoice = self.render_invoice(&spec, &customer, None);
        // A preview is a draft: nothing attempted, nothing hosted; a net credit is due as 0.
        let total = invoice["total"].as_i64().unwrap_or(0);
        for (key, value) in [
            ("status", json!("draft")),
            ("amount_due", json!(total.max(0))),
            ("amount_remaining", json!(total.max(0))),
            ("attempt_count", json!(0)),
            ("attempted", json!(false)),
            ("hosted_invoice_url", Value::Null),
            ("invoice_pdf", Value::Null),
            ("webhooks_delivered_at", Value::Null),
        ] {
            invoice[key] = value;
        }
        invoice["status_transitions"]["finalized_at"] = Value::Null;
        Ok(invoice)
    }

    /// `POST /v1/subscription_schedules` with `from_subscription`: a schedule whose one phase
    /// is the subscription's current period, attached to it.
    pub(crate) fn create_schedule(&mut self, subscription_id: &str, origin: &Origin) -> Result<Value, StripeApiError> {
        let subscription = self
            .subscriptions
            .get(subscription_id)
            .cloned()
            .ok_or_else(|| StripeApiError::no_such(400, "subscription", subscription_id, "from_subscription"))?;
        if subscription["status"] == "canceled" {
            return Err(StripeApiError::invalid("from_subscription", "You cannot create a schedule from a canceled subscription."));
        }
        if let Some(existing) = subscription["schedule"].as_str() {
            return Err(StripeApiError::invalid(
                "from_subscription",
                format!("You cannot migrate a subscription that is already attached to a schedule: `{existing}`."),
            ));
        }
        let (start, end) = billing::current_period(&subscription);
        let items = billing::items_of(&subscription)
            .iter()
            .map(|item| (item["price"]["id"].as_str().unwrap_or_default().to_string(), item["quantity"].as_u64().unwrap_or(1)))
            .collect();
        let id = self.ids.id("sub_sched_", 24);
        let schedule = objects::subscription_schedule(NewSchedule {
            id: &id,
            created: self.now(),
            customer: subscription["customer"].as_str().unwrap_or_default(),
            subscription: subscription_id,
            currency: subscription["currency"].as_str().unwrap_or("usd"),
            phases: &[SchedulePhase { items, start, end }],
        });
        self.subscription_schedules.push(schedule.clone());
        self.emit("subscription_schedule.created", &schedule, None, origin);
        self.update(
            |s| &mut s.subscriptions,
            subscription_id,
            "customer.subscription.updated",
            origin,
            |s| {
                s.insert("schedule".into(), json!(id));
            },
        );
        Ok(schedule)
    }

    /// `POST /v1/subscription_schedules/{id}` with `phases`: replaces the phases. The first
    /// phase must start when the current one did; a last phase without an end runs one
    /// interval of its price.
    pub(crate) fn update_schedule(&mut self, id: &str, phases: Vec<PhaseRequest>, origin: &Origin) -> Result<Value, StripeApiError> {
        let schedule = self.open_schedule(id, "update")?;
        if phases.is_empty() {
            return Err(StripeApiError::missing("phases"));
        }
        let current_start = schedule["current_phase"]["start_date"].as_i64();
        let mut resolved = Vec::new();
        let mut start = phases[0].start.or(current_start).unwrap_or_else(|| self.now());
        if current_start.is_some_and(|current| current != start) {
            return Err(StripeApiError::invalid("phases[0][start_date]", "You can not modify the start date of the current phase."));
        }
        for (i, phase) in phases.iter().enumerate() {
            let Some((price, _)) = phase.items.first() else {
                return Err(StripeApiError::missing(&format!("phases[{i}][items]")));
            };
            for (price, _) in &phase.items {
                if self.catalog.price(price).is_none_or(|p| p.interval.is_none()) {
                    return Err(StripeApiError::no_such(400, "price", price, &format!("phases[{i}][items][0][price]")));
                }
            }
            let interval = self.catalog.price(price).and_then(|p| p.interval.clone()).unwrap_or_else(|| "month".into());
            let end = phase.end.unwrap_or_else(|| clock::add_interval(start, &interval));
            if end <= start {
                return Err(StripeApiError::invalid(format!("phases[{i}][end_date]"), "The end date must be after the start date."));
            }
            resolved.push(SchedulePhase { items: phase.items.clone(), start, end });
            start = end;
        }
        let rendered = objects::subscription_schedule(NewSchedule {
            id,
            created: schedule["created"].as_i64().unwrap_or_default(),
            customer: schedule["customer"].as_str().unwrap_or_default(),
            subscription: schedule["subscription"].as_str().unwrap_or_default(),
            currency: schedule["phases"][0]["currency"].as_str().unwrap_or("usd"),
            phases: &resolved,
        });
        let updated = self.update(
            |s| &mut s.subscription_schedules,
            id,
            "subscription_schedule.updated",
            origin,
            |s| {
                s.insert("phases".into(), rendered["phases"].clone());
                s.insert("current_phase".into(), rendered["current_phase"].clone());
            },
        );
        Ok(updated.unwrap_or(rendered))
    }

    /// `POST /v1/subscription_schedules/{id}/release`: the schedule lets go of the subscription,
    /// which keeps its current items.
    pub(crate) fn release_schedule(&mut self, id: &str, origin: &Origin) -> Result<Value, StripeApiError> {
        self.open_schedule(id, "release")?;
        Ok(self.release(id, origin))
    }

    /// The schedule `id` if it can still change (`active` or `not_started`).
    fn open_schedule(&self, id: &str, verb: &str) -> Result<Value, StripeApiError> {
        let schedule =
            self.subscription_schedules.get(id).cloned().ok_or_else(|| StripeApiError::no_such(404, "subscription_schedule", id, "id"))?;
        if schedule["status"] != "active" && schedule["status"] != "not_started" {
            return Err(StripeApiError::bad_request(format!(
                "You cannot {verb} a subscription schedule that is currently in the `{}` status.",
                schedule["status"].as_str().unwrap_or_default()
            )));
        }
        Ok(schedule)
    }

    fn release(&mut self, id: &str, origin: &Origin) -> Value {
        let now = self.now();
        let mut subscription = None;
        let released = self.update(
            |s| &mut s.subscription_schedules,
            id,
            "subscription_schedule.released",
            origin,
            |s| {
                subscription = s.get("subscription").and_then(Value::as_str).map(str::to_string);
                s.insert("status".into(), json!("released"));
                s.insert("released_at".into(), json!(now));
                s.insert("released_subscription".into(), json!(subscription));
                s.insert("subscription".into(), Value::Null);
                s.insert("current_phase".into(), Value::Null);
            },
        );
        if let Some(subscription) = subscription {
            self.update(
                |s| &mut s.subscriptions,
                &subscription,
                "customer.subscription.updated",
                origin,
                |s| {
                    s.insert("schedule".into(), Value::Null);
                },
            );
        }
        released.unwrap_or_default()
    }

    /// The items of the subscription for the period starting at `at`: its schedule's phase
    /// starting then, if any, applied onto the current items (ids kept, as Stripe does).
    pub(crate) fn items_for_period(&mut self, subscription: &Value, at: i64) -> Vec<Value> {
        let mut items = billing::items_of(subscription);
        let Some(phase) = subscription["schedule"]
            .as_str()
            .and_then(|id| self.subscription_schedules.get(id))
            .and_then(|s| s["phases"].as_array().and_then(|phases| phases.iter().find(|p| p["start_date"] == at)).cloned())
        else {
            return items;
        };
        let subscription_id = subscription["id"].as_str().unwrap_or_default();
        let mut next = Vec::new();
        for (i, wanted) in phase["items"].as_array().cloned().unwrap_or_default().iter().enumerate() {
            let Some(price) = wanted["price"].as_str().and_then(|p| self.catalog.price(p)) else { continue };
            let (id, created) = match items.get(i) {
                Some(old) => (billing::item_id(old).to_string(), old["created"].as_i64().unwrap_or(at)),
                None => (self.ids.id("si_", 14), at),
            };
            next.push(objects::subscription_item(NewSubscriptionItem {
                id: &id,
                subscription: subscription_id,
                price,
                quantity: wanted["quantity"].as_u64().unwrap_or(1),
                created,
                period: billing::current_period(subscription),
            }));
        }
        if !next.is_empty() {
            items = next;
        }
        items
    }

    /// After a renewal into `period`: the schedule's current phase moves on, and a schedule
    /// with no phase left for it is released (`end_behavior: release`).
    pub(crate) fn schedule_moved_to(&mut self, subscription: &Value, period: (i64, i64), origin: &Origin) {
        let Some(id) = subscription["schedule"].as_str() else { return };
        let covered =
            self.subscription_schedules.get(id).and_then(|s| s["phases"].as_array().cloned()).unwrap_or_default().iter().any(|p| {
                p["start_date"].as_i64().is_some_and(|start| start <= period.0) && p["end_date"].as_i64().is_some_and(|end| end > period.0)
            });
        if covered {
            self.update(
                |s| &mut s.subscription_schedules,
                id,
                "subscription_schedule.updated",
                origin,
                |s| {
                    s.insert("current_phase".into(), json!({"start_date": period.0, "end_date": period.1}));
                },
            );
        } else {
            self.release(id, origin);
        }
    }
}
