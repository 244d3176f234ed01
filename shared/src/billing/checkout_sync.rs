//! `GET /billing/checkout/{session_id}`: the success page's eager sync. Applies a completed
//! Checkout Session of the caller's org from Stripe right away, so the page does not wait for the
//! webhook; idempotent with it (same markers, same re-read).

use serde::Serialize;
use utoipa::ToSchema;

use crate::App;
use crate::billing::load_org;
use crate::billing::webhook_sync::{Outcome, apply};
use crate::domain::events::Effect;
use crate::domain::principal::Principal;
use crate::domain::summary::{BillingSummary, billing_summary};
use crate::error::ApiError;

/// What the success page learns: the session's state and the org's billing after the sync.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CheckoutSync {
    pub session_id: String,
    pub complete: bool,
    pub paid: bool,
    pub billing: BillingSummary,
}

/// A Checkout Session id as Stripe makes them; anything else is refused before Stripe is asked.
pub fn valid_session_id(id: &str) -> bool {
    id.starts_with("cs_") && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub async fn sync_checkout(app: &App, principal: &Principal, session_id: &str, now: i64) -> Result<CheckoutSync, ApiError> {
    if !valid_session_id(session_id) {
        return Err(ApiError::field("session_id", "must be a Checkout Session id (cs_...)"));
    }
    let not_found = || ApiError::not_found(format!("No checkout session {session_id} for this org."));
    let mut org = load_org(&app.store, &principal.org_id).await?;
    let session = app.stripe()?.retrieve_checkout_session(session_id).await.map_err(|err| match err.is_refused_id() {
        true => not_found(),
        false => err.into(),
    })?;
    let ours = session.client_reference_id.as_deref() == Some(org.org_id.as_str())
        && session.customer_id.is_some()
        && session.customer_id == org.stripe_customer_id;
    if !ours {
        return Err(not_found());
    }
    let effect = match (&session.subscription_id, session.metadata.get("purpose").map(String::as_str)) {
        _ if !(session.complete && session.paid) => None,
        (Some(subscription_id), _) if session.is_subscription => {
            Some(Effect::SyncSubscription { customer_id: String::new(), subscription_id: subscription_id.clone() })
        }
        (_, Some("credits")) => session.metadata.get("credits").and_then(|c| c.parse().ok()).map(|credits| Effect::GrantCredits {
            customer_id: String::new(),
            payment_id: session.id.clone(),
            credits,
            bought_by: None,
        }),
        _ => None,
    };
    if let Some(effect) = effect {
        org = match apply(app, &org.org_id, &effect, None, now).await? {
            // Somebody else (the webhook) wrote it first: read what they wrote.
            (Outcome::Duplicate, _) => load_org(&app.store, &org.org_id).await?,
            (_, written) => written,
        };
    }
    let billing = billing_summary(&org, &app.config.catalog, now, app.config.past_due_grace_secs);
    Ok(CheckoutSync { session_id: session.id, complete: session.complete, paid: session.paid, billing })
}
