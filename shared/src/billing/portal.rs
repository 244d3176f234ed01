//! `POST /billing/portal`: a Stripe Customer Portal session, where a human manages card,
//! invoices and cancellation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::billing::load_org;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::redirect;
use crate::error::{ApiError, ErrorKind};
use crate::stripe::idempotency_key;

/// Portal sessions for the same org and return URL within a minute are the same session.
const WINDOW_SECS: i64 = 60;

/// `POST /billing/portal`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalBody {
    /// On an allowed origin; default: the deployment's return URL.
    #[serde(default)]
    #[schema(pattern = r"^https?://[!-~]+$", max_length = 2048)]
    pub return_url: Option<String>,
}

/// The answer of `POST /billing/portal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PortalSession {
    pub url: String,
}

pub async fn portal_session(app: &App, principal: &Principal, body: &PortalBody, now: i64) -> Result<PortalSession, ApiError> {
    // The portal can cancel or change the plan with no consent step. An agent may fetch the link
    // to hand to its human (the reference API allows it), unless the deployment turns that off.
    if principal.kind == PrincipalKind::Agent {
        if !app.config.agent_portal_access {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "This deployment does not give agents Customer Portal links: ask a human of the org.",
            ));
        }
        tracing::info!(principal = %principal.principal_id, "portal session requested by an agent");
    }
    let stripe = app.stripe()?;
    let config = &app.config;
    let return_url =
        redirect::resolve("return_url", body.return_url.as_deref(), config.default_return_url.as_deref(), &config.allowed_redirect_origins)
            .map_err(|problem| ApiError::validation(vec![problem]))?;
    let org = load_org(&app.store, &principal.org_id).await?;
    let customer_id = org
        .stripe_customer_id
        .ok_or_else(|| ApiError::new(ErrorKind::NoStripeCustomer, "This org has no Stripe customer yet: start a checkout first."))?;
    let key = idempotency_key(&["portal", &org.org_id, &return_url, &now.div_euclid(WINDOW_SECS).to_string()]);
    Ok(PortalSession { url: stripe.create_portal_session(&customer_id, &return_url, &key).await? })
}
