//! The use cases: one module per operation. Each reads like the steps of the operation and
//! reaches I/O only through the store and the Stripe gateway; each answers in `ApiError`.

pub mod activity;
pub mod agents;
pub mod authenticate;
pub mod auto_top_up;
pub mod brake;
pub mod buy_credits;
pub mod checkout;
pub mod checkout_sync;
pub mod credits;
pub mod credits_checkout;
pub mod idempotency;
pub mod invoices;
pub mod limit_signals;
pub mod limits;
pub mod mandate_request;
pub mod mandates;
pub mod plan_change;
pub mod portal;
pub mod promotion;
pub mod promotion_codes;
pub mod publish;
pub mod reconcile;
pub mod settings;
pub mod summary;
pub mod top_up;
pub mod usage;
pub mod web_approval;
pub mod webhook_sync;

use crate::domain::mandate::Mandate;
use crate::domain::org::Org;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::ApiError;
use crate::store::Store;

/// Who asks and where they asked: `base_url` is the API's public origin, for the links an
/// approval answer carries.
pub struct Caller<'a> {
    pub principal: &'a Principal,
    pub base_url: &'a str,
}

/// The org of the caller's key: the one place that loads an org or answers 404.
pub async fn load_org(store: &Store, org_id: &str) -> Result<Org, ApiError> {
    store.get_org(org_id).await?.ok_or_else(no_org)
}

/// The caller's org and, for an AGENT key, its mandate, in one round trip.
pub async fn load_org_and_mandate(store: &Store, principal: &Principal) -> Result<(Org, Option<Mandate>), ApiError> {
    if principal.kind != PrincipalKind::Agent {
        return Ok((load_org(store, &principal.org_id).await?, None));
    }
    let (org, mandate) = store.org_and_mandate(&principal.org_id, &principal.key_id).await?;
    Ok((org.ok_or_else(no_org)?, mandate))
}

fn no_org() -> ApiError {
    ApiError::not_found("The org of this key no longer exists.")
}
