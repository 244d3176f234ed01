//! `POST /billing/promotion-code`: a promotion code applied to the org's live subscription,
//! checked against its plan first (`promotion_codes::resolve`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::billing::load_org;
use crate::billing::plan_change::answer::Applied;
use crate::billing::promotion_codes::resolve;
use crate::billing::webhook_sync::apply;
use crate::domain::change::{AppliedStatus, PlanConfig};
use crate::domain::events::Effect;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::promotion::check_code_text;
use crate::error::{ApiError, ErrorKind};
use crate::stripe::idempotency_key;

/// `POST /billing/promotion-code`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionCodeBody {
    /// The code the customer typed, e.g. `LAUNCH20`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub promotion_code: String,
}

/// Applies a promotion code to the org's live subscription (HUMAN or ADMIN; an AGENT is 403).
pub async fn apply_promotion_code(app: &App, principal: &Principal, body: &PromotionCodeBody, now: i64) -> Result<Applied, ApiError> {
    if principal.kind == PrincipalKind::Agent {
        return Err(ApiError::forbidden("An agent key cannot apply a promotion code: a human of the org does, with their own key."));
    }
    check_code_text(&body.promotion_code).map_err(|problem| ApiError::validation(vec![problem]))?;
    let org = load_org(&app.store, &principal.org_id).await?;
    let price = PlanConfig::of(&org).price(&app.config.catalog);
    let (Some(subscription_id), Some(customer_id), Some(price), true) =
        (org.stripe_subscription_id.clone(), org.stripe_customer_id.clone(), price, org.status.is_live())
    else {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "This org has no subscription to apply a code to: start one with POST /billing/checkout and its `promotion_code`.",
        ));
    };
    let promotion_code_id = resolve(app, &org, &body.promotion_code, price, org.quantity, now).await?;
    let key = idempotency_key(&["promotion_code", &org.org_id, &subscription_id, &promotion_code_id]);
    app.stripe()?.apply_promotion_code(&subscription_id, &promotion_code_id, &key).await?;
    let (_, org) = apply(app, &org.org_id, &Effect::SyncSubscription { customer_id, subscription_id }, None, now).await?;
    tracing::info!(org_id = %org.org_id, "promotion code applied");
    Ok(Applied::of(app, AppliedStatus::DiscountApplied, &org, now))
}
