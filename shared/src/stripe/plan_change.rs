//! The gateway's plan-change calls: preview what a change costs now, apply it with the
//! proration time pinned to the preview's, schedule one for the period end (a subscription
//! schedule, as Stripe recommends), and cancel at period end or lift that cancel.

use stripe_billing::invoice::{
    CreatePreviewInvoice, CreatePreviewInvoiceDiscounts, CreatePreviewInvoiceSubscriptionDetails,
    CreatePreviewInvoiceSubscriptionDetailsItems, CreatePreviewInvoiceSubscriptionDetailsProrationBehavior,
};
use stripe_billing::subscription::{
    DiscountsDataParam, UpdateSubscription, UpdateSubscriptionItems, UpdateSubscriptionPaymentBehavior, UpdateSubscriptionProrationBehavior,
};
use stripe_billing::subscription_schedule::{
    CreateSubscriptionSchedule, ReleaseSubscriptionSchedule, UpdateSubscriptionSchedule, UpdateSubscriptionSchedulePhases,
    UpdateSubscriptionSchedulePhasesEndDate, UpdateSubscriptionSchedulePhasesItems, UpdateSubscriptionSchedulePhasesStartDate,
};

use serde::de::IgnoredAny;
use stripe_shared::SubscriptionScheduleEndBehavior;

use super::wire::{Object, PreviewInvoice, Subscription};
use super::{DueNow, GatewayError, StripeGateway};
use crate::domain::subscription::SubscriptionState;

/// A subscription's one item after a change: which catalog price, how many units, and the
/// promotion code (`promo_...`) the change puts on the subscription, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem<'a> {
    pub price_id: &'a str,
    pub quantity: u32,
    pub promotion_code: Option<&'a str>,
}

/// What an immediate change came to at Stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    Applied,
    /// The proration invoice was not paid: Stripe kept the old items (`pending_if_incomplete`).
    PaymentFailed {
        invoice_id: Option<String>,
    },
}

impl StripeGateway {
    /// What the org pays now for the change, prorated at `proration_date` and billed at once.
    pub async fn preview_change(&self, sub: &SubscriptionState, to: &PlanItem<'_>, proration_date: i64) -> Result<DueNow, GatewayError> {
        let item_id = item_of(sub, "preview_change")?;
        let mut item = CreatePreviewInvoiceSubscriptionDetailsItems::new();
        item.id = Some(item_id.to_string());
        item.price = Some(to.price_id.to_string());
        item.quantity = Some(u64::from(to.quantity));
        let mut details = CreatePreviewInvoiceSubscriptionDetails::new();
        details.items = Some(vec![item]);
        details.proration_date = Some(proration_date);
        details.proration_behavior = Some(CreatePreviewInvoiceSubscriptionDetailsProrationBehavior::AlwaysInvoice);
        let mut request = CreatePreviewInvoice::new().subscription(sub.id.as_str()).subscription_details(details);
        if let Some(code) = to.promotion_code {
            let mut discount = CreatePreviewInvoiceDiscounts::new();
            discount.promotion_code = Some(code.to_string());
            request = request.discounts(vec![discount]);
        }
        let invoice: PreviewInvoice = self.send("preview_change", None, request).await?;
        Ok(invoice.due_now())
    }

    /// Applies the change now, invoicing the proration at once; with the payment failing the old
    /// items stay (`payment_behavior=pending_if_incomplete`).
    pub async fn change_now(
        &self,
        sub: &SubscriptionState,
        to: &PlanItem<'_>,
        proration_date: i64,
        idempotency_key: &str,
    ) -> Result<ChangeOutcome, GatewayError> {
        let item_id = item_of(sub, "change_subscription")?;
        let mut item = UpdateSubscriptionItems::new();
        item.id = Some(item_id.to_string());
        item.price = Some(to.price_id.to_string());
        item.quantity = Some(u64::from(to.quantity));
        let mut request = UpdateSubscription::new(sub.id.as_str())
            .items(vec![item])
            .proration_behavior(UpdateSubscriptionProrationBehavior::AlwaysInvoice)
            .proration_date(proration_date)
            .payment_behavior(UpdateSubscriptionPaymentBehavior::PendingIfIncomplete);
        if let Some(code) = to.promotion_code {
            let mut discount = DiscountsDataParam::new();
            discount.promotion_code = Some(code.to_string());
            request = request.discounts(vec![discount]);
        }
        let updated: Subscription = self.send("change_subscription", Some(idempotency_key), request).await?;
        if updated.pending_update.is_some() {
            return Ok(ChangeOutcome::PaymentFailed { invoice_id: updated.latest_invoice.as_ref().map(|i| i.id().to_string()) });
        }
        Ok(ChangeOutcome::Applied)
    }

    /// Schedules the change for the end of the current period: the subscription's schedule (made
    /// from it when it has none) gets two phases, the current items until the period end, then
    /// `to`; the schedule releases the subscription after that.
    pub async fn change_at_period_end(
        &self,
        sub: &SubscriptionState,
        to: &PlanItem<'_>,
        idempotency_key: &str,
    ) -> Result<(), GatewayError> {
        let (Some(current_price), Some(period_end)) = (sub.price_id.as_deref(), sub.current_period_end) else {
            return Err(GatewayError::local("change_at_period_end", "the subscription has no item or period"));
        };
        let schedule_id = match &sub.schedule_id {
            Some(id) => id.clone(),
            None => {
                let key = format!("{idempotency_key}-schedule");
                let schedule: Object =
                    self.send("create_schedule", Some(&key), CreateSubscriptionSchedule::new().from_subscription(sub.id.as_str())).await?;
                schedule.id
            }
        };
        let item = |price: &str, quantity: u32| {
            let mut item = UpdateSubscriptionSchedulePhasesItems::new();
            item.price = Some(price.to_string());
            item.quantity = Some(u64::from(quantity));
            item
        };
        let mut current = UpdateSubscriptionSchedulePhases::new(vec![item(current_price, sub.quantity)]);
        current.start_date = sub.current_period_start.map(UpdateSubscriptionSchedulePhasesStartDate::Timestamp);
        current.end_date = Some(UpdateSubscriptionSchedulePhasesEndDate::Timestamp(period_end));
        let next = UpdateSubscriptionSchedulePhases::new(vec![item(to.price_id, to.quantity)]);
        let request = UpdateSubscriptionSchedule::new(schedule_id.as_str())
            .phases(vec![current, next])
            .end_behavior(SubscriptionScheduleEndBehavior::Release);
        let _: IgnoredAny = self.send("update_schedule", Some(idempotency_key), request).await?;
        Ok(())
    }

    /// Lets go of the subscription's schedule (a scheduled change is dropped); the items stay.
    pub async fn release_schedule(&self, schedule_id: &str, idempotency_key: &str) -> Result<(), GatewayError> {
        let _: IgnoredAny = self.send("release_schedule", Some(idempotency_key), ReleaseSubscriptionSchedule::new(schedule_id)).await?;
        Ok(())
    }

    /// Sets or lifts the cancel at period end.
    pub async fn cancel_at_period_end(
        &self,
        subscription_id: &str,
        cancel: bool,
        idempotency_key: &str,
    ) -> Result<SubscriptionState, GatewayError> {
        let request = UpdateSubscription::new(subscription_id)
            .cancel_at_period_end(cancel)
            .expand(vec!["default_payment_method".to_string(), "schedule".to_string()]);
        let updated: Subscription = self.send("cancel_at_period_end", Some(idempotency_key), request).await?;
        Ok(updated.state())
    }
}

fn item_of<'s>(sub: &'s SubscriptionState, operation: &'static str) -> Result<&'s str, GatewayError> {
    sub.item_id.as_deref().ok_or_else(|| GatewayError::local(operation, "the subscription has no item"))
}
