//! The gateway's Checkout calls: open a session (with its trial, discount and tax settings),
//! read one back, expire one that lost a race.

use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionAutomaticTax, CreateCheckoutSessionCustomerUpdate,
    CreateCheckoutSessionCustomerUpdateAddress, CreateCheckoutSessionCustomerUpdateName, CreateCheckoutSessionDiscounts,
    CreateCheckoutSessionInvoiceCreation, CreateCheckoutSessionLineItems, CreateCheckoutSessionPaymentIntentData,
    CreateCheckoutSessionPaymentMethodCollection, CreateCheckoutSessionSubscriptionData,
    CreateCheckoutSessionSubscriptionDataTrialSettings, CreateCheckoutSessionSubscriptionDataTrialSettingsEndBehavior,
    CreateCheckoutSessionSubscriptionDataTrialSettingsEndBehaviorMissingPaymentMethod, CreateCheckoutSessionTaxIdCollection,
    ExpireCheckoutSession, RetrieveCheckoutSession,
};
use stripe_shared::{CheckoutSessionBillingAddressCollection, CheckoutSessionMode};

use super::client::Answer;
use super::wire::{CheckoutSession, Object, UrlSession};
use super::{CheckoutDiscount, CheckoutLink, CheckoutMode, CheckoutRequest, CheckoutSessionState, GatewayError, StripeGateway, TrialOffer};
use crate::metrics::{self, CheckoutKind};

impl StripeGateway {
    pub async fn create_checkout_session(&self, req: &CheckoutRequest<'_>) -> Result<CheckoutLink, GatewayError> {
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(req.price_id.to_string());
        item.quantity = Some(u64::from(req.quantity));
        let session = CreateCheckoutSession::new()
            .customer(req.customer_id)
            .client_reference_id(req.org_id)
            .line_items(vec![item])
            .success_url(req.success_url)
            .cancel_url(req.cancel_url)
            .metadata(req.metadata.clone())
            .expires_at(req.expires_at);
        let session = match req.mode {
            CheckoutMode::Subscription => {
                let mut data = CreateCheckoutSessionSubscriptionData::new();
                data.metadata = Some(req.metadata.clone());
                let session = with_trial(session, &mut data, req.trial);
                session.mode(CheckoutSessionMode::Subscription).subscription_data(data)
            }
            CheckoutMode::Payment => {
                let mut data = CreateCheckoutSessionPaymentIntentData::new();
                data.metadata = Some(req.metadata.clone());
                // One-time payments get an invoice only when asked; buyers want one.
                session
                    .mode(CheckoutSessionMode::Payment)
                    .payment_intent_data(data)
                    .invoice_creation(CreateCheckoutSessionInvoiceCreation::new(true))
            }
        };
        let session = with_tax(with_discount(session, &req.discount), req.automatic_tax);
        let answer: Answer<UrlSession> = self.answer("create_checkout_session", Some(&req.idempotency_key), session).await?;
        // Counted here, where Stripe says whether it made the session or replayed the one an
        // earlier attempt of the same request made.
        if !answer.replayed {
            metrics::checkout_started(match req.mode {
                CheckoutMode::Subscription => CheckoutKind::Subscription,
                CheckoutMode::Payment => CheckoutKind::Credits,
            });
        }
        let session = answer.value;
        let url = session
            .url
            .ok_or_else(|| GatewayError::local("create_checkout_session", "Stripe returned a Checkout Session without a URL"))?;
        Ok(CheckoutLink { session_id: session.id, url })
    }

    pub async fn expire_checkout_session(&self, session_id: &str) {
        let expired: Result<Object, _> = self.send("expire_checkout_session", None, ExpireCheckoutSession::new(session_id)).await;
        if let Err(err) = expired {
            tracing::warn!(session_id, error = %err, "could not expire an unused checkout session");
        }
    }

    pub async fn retrieve_checkout_session(&self, session_id: &str) -> Result<CheckoutSessionState, GatewayError> {
        let session: CheckoutSession = self.send("retrieve_checkout_session", None, RetrieveCheckoutSession::new(session_id)).await?;
        Ok(CheckoutSessionState {
            customer_id: session.customer.as_ref().map(|c| c.id().to_string()),
            client_reference_id: session.client_reference_id,
            subscription_id: session.subscription.as_ref().map(|s| s.id().to_string()),
            is_subscription: session.mode == "subscription",
            complete: session.status.as_deref() == Some("complete"),
            paid: matches!(session.payment_status.as_str(), "paid" | "no_payment_required"),
            metadata: session.metadata.unwrap_or_default(),
            id: session.id,
        })
    }
}

/// A trial: its days on the subscription and, when it needs no card, a Checkout that asks for
/// none and a subscription cancelled if the trial ends without one.
fn with_trial(
    session: CreateCheckoutSession,
    data: &mut CreateCheckoutSessionSubscriptionData,
    trial: Option<TrialOffer>,
) -> CreateCheckoutSession {
    let Some(trial) = trial.filter(|t| t.days > 0) else { return session };
    data.trial_period_days = Some(trial.days);
    if trial.requires_card {
        return session;
    }
    data.trial_settings =
        Some(CreateCheckoutSessionSubscriptionDataTrialSettings::new(CreateCheckoutSessionSubscriptionDataTrialSettingsEndBehavior::new(
            CreateCheckoutSessionSubscriptionDataTrialSettingsEndBehaviorMissingPaymentMethod::Cancel,
        )));
    session.payment_method_collection(CreateCheckoutSessionPaymentMethodCollection::IfRequired)
}

/// Stripe refuses `discounts` with `allow_promotion_codes`: one or the other.
fn with_discount(session: CreateCheckoutSession, discount: &CheckoutDiscount) -> CreateCheckoutSession {
    match discount {
        CheckoutDiscount::None => session,
        CheckoutDiscount::Typed => session.allow_promotion_codes(true),
        CheckoutDiscount::PromotionCode(id) => {
            let mut code = CreateCheckoutSessionDiscounts::new();
            code.promotion_code = Some(id.clone());
            session.discounts(vec![code])
        }
    }
}

/// Stripe Tax needs the customer's address: collected on the page and saved to the customer,
/// with the tax ids a business gives.
fn with_tax(session: CreateCheckoutSession, automatic_tax: bool) -> CreateCheckoutSession {
    if !automatic_tax {
        return session;
    }
    let mut update = CreateCheckoutSessionCustomerUpdate::new();
    update.address = Some(CreateCheckoutSessionCustomerUpdateAddress::Auto);
    update.name = Some(CreateCheckoutSessionCustomerUpdateName::Auto);
    session
        .automatic_tax(CreateCheckoutSessionAutomaticTax::new(true))
        .billing_address_collection(CheckoutSessionBillingAddressCollection::Required)
        .tax_id_collection(CreateCheckoutSessionTaxIdCollection::new(true))
        .customer_update(update)
}
