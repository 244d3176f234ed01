//! The gateway's trial calls: what ending a trial now would charge, ending it now (the first
//! period's invoice charged at once), and moving its end.

use stripe_billing::invoice::{
    CreatePreviewInvoice, CreatePreviewInvoiceSubscriptionDetails, CreatePreviewInvoiceSubscriptionDetailsTrialEnd,
};
use stripe_billing::subscription::{
    UpdateSubscription, UpdateSubscriptionPaymentBehavior, UpdateSubscriptionProrationBehavior, UpdateSubscriptionTrialEnd,
};

use super::wire::{Object, PreviewInvoice, Subscription};
use super::{ChangeOutcome, DueNow, GatewayError, StripeGateway};

impl StripeGateway {
    /// What the org pays if its trial ends now: the first period's invoice, as Stripe would
    /// make it (discount and tax included).
    pub async fn preview_trial_end(&self, subscription_id: &str) -> Result<DueNow, GatewayError> {
        let mut details = CreatePreviewInvoiceSubscriptionDetails::new();
        details.trial_end = Some(CreatePreviewInvoiceSubscriptionDetailsTrialEnd::Now);
        let request = CreatePreviewInvoice::new().subscription(subscription_id).subscription_details(details);
        let invoice: PreviewInvoice = self.send("preview_trial_end", None, request).await?;
        Ok(invoice.due_now())
    }

    /// Ends the trial now: the first period starts and its invoice is charged at once; with the
    /// payment failing the trial stays (`payment_behavior=pending_if_incomplete`).
    pub async fn end_trial_now(&self, subscription_id: &str, idempotency_key: &str) -> Result<ChangeOutcome, GatewayError> {
        let request = UpdateSubscription::new(subscription_id)
            .trial_end(UpdateSubscriptionTrialEnd::Now)
            .payment_behavior(UpdateSubscriptionPaymentBehavior::PendingIfIncomplete);
        let updated: Subscription = self.send("end_trial", Some(idempotency_key), request).await?;
        if updated.pending_update.is_some() {
            return Ok(ChangeOutcome::PaymentFailed { invoice_id: updated.latest_invoice.as_ref().map(|i| i.id().to_string()) });
        }
        Ok(ChangeOutcome::Applied)
    }

    /// Moves the trial's end to `trial_end` (epoch seconds); nothing is charged.
    pub async fn set_trial_end(&self, subscription_id: &str, trial_end: i64, idempotency_key: &str) -> Result<(), GatewayError> {
        let request = UpdateSubscription::new(subscription_id)
            .trial_end(UpdateSubscriptionTrialEnd::Timestamp(trial_end))
            .proration_behavior(UpdateSubscriptionProrationBehavior::None);
        let _: Object = self.send("set_trial_end", Some(idempotency_key), request).await?;
        Ok(())
    }
}
