//! `POST /billing/trial/end` and `POST /billing/trial/extend`: a free trial brought to its end
//! now ("start paying now", Stripe's `trial_end=now`), or moved later by an admin.
//!
//! Ending a trial charges the first period, so it goes the way of a plan change: a HUMAN or ADMIN
//! executes it at once, an AGENT inside its mandate too, and otherwise an AGENT asks its
//! human's consent (confirm token or web approval). Extending charges nothing: ADMIN only.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::answer::{Applied, TrialEndAnswer};
use super::{Asked, ConsentMode, compute, consent, consent_or_execute};
use crate::App;
use crate::billing::webhook_sync::apply;
use crate::billing::{Caller, load_org, load_org_and_mandate};
use crate::domain::change::{AppliedStatus, ChangeKind, PlanConfig};
use crate::domain::events::Effect;
use crate::domain::org::Org;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::trial::{MAX_EXTENSION_DAYS, extended_trial_end, trial_end};
use crate::error::{ApiError, ErrorKind};
use crate::stripe::idempotency_key;

/// `POST /billing/trial/end`: every field optional.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndTrialBody {
    /// The token of a `confirmation_required` answer: executes the end it was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^ct_[0-9a-f]{48}$")]
    pub confirm_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ConsentMode>,
}

/// `POST /billing/trial/extend`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendTrialBody {
    /// Days added to the trial's current end: 1 to 30.
    #[serde(deserialize_with = "crate::domain::whole_number::required")]
    #[schema(minimum = 1, maximum = 30)]
    pub days: u32,
}

pub(crate) fn not_trialing(org: &Org) -> ApiError {
    ApiError::new(ErrorKind::NotTrialing, "This org is not in a free trial: there is no trial to end or extend.")
        .with_details(json!({ "status": org.status }))
}

/// Ends the org's trial now: the first period is charged (what Stripe's preview says, discount
/// and tax included), as the caller's consent allows.
pub async fn end_trial(app: &App, caller: &Caller<'_>, body: &EndTrialBody, now: i64) -> Result<TrialEndAnswer, ApiError> {
    let principal = caller.principal;
    let params = idempotency_key(&["end_trial"]);
    if let Some(token) = &body.confirm_token {
        return consent::confirm(app, principal, "end_trial", &params, token, now).await.map(TrialEndAnswer::Applied);
    }
    let (org, mandate) = load_org_and_mandate(&app.store, principal).await?;
    if trial_end(&org).is_err() || org.stripe_subscription_id.is_none() {
        return Err(not_trialing(&org));
    }
    let config = PlanConfig::of(&org);
    let change = compute(app, &org, ChangeKind::EndTrial, (config.clone(), config), None, now).await?;
    let asked = Asked { action: "end_trial", params: &params, mode: body.mode };
    Ok(consent_or_execute(app, caller, (&org, mandate.as_ref()), asked, change, now).await?.into())
}

/// Gives the org's trial `days` more (ADMIN only); nothing is charged. Two identical requests
/// made on the same trial end move it once (one Stripe key); a request repeated after the first
/// succeeded adds its days again.
pub async fn extend_trial(app: &App, principal: &Principal, body: &ExtendTrialBody, now: i64) -> Result<Applied, ApiError> {
    if principal.kind != PrincipalKind::Admin {
        return Err(ApiError::forbidden("Only an ADMIN key extends a trial."));
    }
    if !(1..=MAX_EXTENSION_DAYS).contains(&body.days) {
        return Err(ApiError::field("days", format!("must be 1 to {MAX_EXTENSION_DAYS}")));
    }
    let org = load_org(&app.store, &principal.org_id).await?;
    let (Ok(current_end), Some(subscription_id), Some(customer_id)) =
        (trial_end(&org), org.stripe_subscription_id.clone(), org.stripe_customer_id.clone())
    else {
        return Err(not_trialing(&org));
    };
    let new_end = extended_trial_end(&org, body.days, now).map_err(|_| not_trialing(&org))?;
    let key = idempotency_key(&["extend_trial", &org.org_id, &subscription_id, &current_end.to_string(), &body.days.to_string()]);
    app.stripe()?.set_trial_end(&subscription_id, new_end, &key).await?;
    let (_, org) = apply(app, &org.org_id, &Effect::SyncSubscription { customer_id, subscription_id }, None, now).await?;
    tracing::info!(org_id = %org.org_id, days = body.days, trial_ends_at = new_end, "trial extended");
    Ok(Applied::of(app, AppliedStatus::TrialExtended, &org, now))
}
