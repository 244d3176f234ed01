//! The authorizer's use case: a bearer token -> its principal, in one GetItem.

use crate::domain::api_key::{accepts, key_id_of};
use crate::domain::org::Principal;
use crate::error::ApiError;
use crate::store::Store;

/// Missing, malformed, unknown and revoked keys are all the same 401, so a caller learns
/// nothing about which keys exist.
pub async fn authenticate(store: &Store, token: Option<&str>) -> Result<Principal, ApiError> {
    let (Some(token), Some(key_id)) = (token, token.and_then(key_id_of)) else {
        return Err(ApiError::unauthorized());
    };
    let record = store.get_api_key(key_id).await?.ok_or_else(ApiError::unauthorized)?;
    accepts(&record, token).inspect(crate::metrics::principal).ok_or_else(ApiError::unauthorized)
}
