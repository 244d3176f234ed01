//! The authorizer's use case: a bearer token -> its principal, in one GetItem.

use crate::domain::api_key::{accepts, key_id_of};
use crate::domain::brake;
use crate::domain::principal::Principal;
use crate::error::ApiError;
use crate::store::Store;

/// A key's principal, and until when the brake pauses it (a pause that has ended is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    pub principal: Principal,
    pub paused_until: Option<i64>,
}

/// Missing, malformed, unknown and revoked keys are all the same 401, so a caller learns
/// nothing about which keys exist.
pub async fn authenticate(store: &Store, token: Option<&str>) -> Result<Principal, ApiError> {
    authorize(store, token, 0).await.map(|authorized| authorized.principal)
}

/// `authenticate`, with the key's pause at `now` read from the same item.
pub async fn authorize(store: &Store, token: Option<&str>, now: i64) -> Result<Authorized, ApiError> {
    let (Some(token), Some(key_id)) = (token, token.and_then(key_id_of)) else {
        return Err(ApiError::unauthorized());
    };
    let record = store.get_api_key(key_id).await?.ok_or_else(ApiError::unauthorized)?;
    let principal = accepts(&record, token).inspect(crate::metrics::principal).ok_or_else(ApiError::unauthorized)?;
    let paused_until = record.paused_until.filter(|_| brake::retry_after(record.paused_until, now).is_some());
    Ok(Authorized { principal, paused_until })
}
