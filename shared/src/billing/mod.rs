//! The use cases: one module per operation. Each reads like the steps of the operation and
//! reaches I/O only through the store and the Stripe gateway; each answers in `ApiError`.

pub mod activity;
pub mod authenticate;
pub mod brake;
pub mod checkout;
pub mod checkout_sync;
pub mod credits;
pub mod credits_checkout;
pub mod idempotency;
pub mod invoices;
pub mod limit_signals;
pub mod limits;
pub mod plan_change;
pub mod portal;
pub mod publish;
pub mod reconcile;
pub mod settings;
pub mod summary;
pub mod top_up;
pub mod usage;
pub mod webhook_sync;

use crate::domain::org::Org;
use crate::error::ApiError;
use crate::store::Store;

/// The org of the caller's key: the one place that loads an org or answers 404.
pub async fn load_org(store: &Store, org_id: &str) -> Result<Org, ApiError> {
    store.get_org(org_id).await?.ok_or_else(|| ApiError::not_found("The org of this key no longer exists."))
}
