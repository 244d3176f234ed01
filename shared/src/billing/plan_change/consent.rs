//! Chat-mode consent: the agent is given a confirm token and a sentence with real amounts to
//! show its human; repeating the call with the token executes the change, once.

use serde_json::{Value, json};

use super::execute::{Claim, execute};
use super::{Asked, Change, public_change};
use crate::App;
use crate::domain::api_key::{hash, random_hex};
use crate::domain::org::{Org, Principal};
use crate::error::{ApiError, ErrorKind};
use crate::store::{ConsentRecord, ConsentState};
use crate::stripe::idempotency_key;

/// How long a confirm token is valid.
pub const TOKEN_TTL_SECS: i64 = 60;
/// 128 random bits and then some.
const TOKEN_BYTES: usize = 24;

pub(super) fn invalid_token(reason: &str, message: &str) -> ApiError {
    ApiError::new(ErrorKind::InvalidConfirmToken, message).with_details(json!({ "reason": reason }))
}

fn expired() -> ApiError {
    invalid_token("expired", "This confirm token has expired: ask again without a token.")
}

/// The first call of the handshake: stores the token's hash with what it is bound to and
/// answers `confirmation_required`; nothing changes.
pub(super) async fn ask(
    app: &App,
    principal: &Principal,
    org: &Org,
    asked: Asked<'_>,
    change: &Change,
    message: String,
    now: i64,
) -> Result<Value, ApiError> {
    let token = format!("ct_{}", random_hex(TOKEN_BYTES));
    let view = change.view(&app.config.catalog.currency);
    let record = ConsentRecord {
        token_hash: hash(&token),
        org_id: org.org_id.clone(),
        principal_id: principal.principal_id.clone(),
        action: asked.action.to_string(),
        params: asked.params.to_string(),
        generation: org.change_generation,
        proration_date: change.proration_date,
        change: view.to_string(),
        valid_until: now + TOKEN_TTL_SECS,
        state: ConsentState::Pending,
        result: None,
    };
    app.store.put_consent(&record).await?;
    tracing::info!(org_id = %org.org_id, principal_id = %principal.principal_id, action = asked.action, "confirmation required");
    Ok(json!({
        "status": "confirmation_required",
        "confirm_token": token,
        "expires_in": TOKEN_TTL_SECS,
        "message": message,
        "change": public_change(&view),
    }))
}

/// The second call of the handshake: checks the token, then executes the change it is for.
pub(super) async fn confirm(
    app: &App,
    principal: &Principal,
    action: &str,
    params: &str,
    token: &str,
    now: i64,
) -> Result<Value, ApiError> {
    let token_hash = hash(token);
    let record = app.store.get_consent(&token_hash).await?.filter(|r| r.org_id == principal.org_id);
    let Some(record) = record else {
        return Err(invalid_token("unknown", "This confirm token is unknown: ask again without a token."));
    };
    if record.principal_id != principal.principal_id || record.action != action || record.params != params {
        return Err(invalid_token(
            "mismatch",
            "This confirm token was issued for another caller or other parameters; nothing was changed.",
        ));
    }
    if record.state == ConsentState::Used {
        return Err(used(&record));
    }
    if record.valid_until <= now {
        return Err(expired());
    }
    let change = Change::stored(&record.change)?;
    let key = idempotency_key(&["plan_change", &record.org_id, &token_hash]);
    let outcome = execute(app, &record.org_id, &change, record.generation, Some(Claim::Token(&token_hash)), &key, now).await;
    let result = match &outcome {
        Ok(answer) => answer.clone(),
        Err(failure) if !failure.claimed => return Err(failure.error.clone()),
        Err(failure) => json!({ "error": failure.error.kind.code(), "message": failure.error.message }),
    };
    app.store.record_consent_result(&token_hash, &result.to_string()).await?;
    outcome.map_err(|failure| failure.error)
}

/// Marks the token used while its change holds the org's lock; of two uses one gets through,
/// the other is told `used` (or `expired` if it lapsed in between).
pub(super) async fn claim(app: &App, token_hash: &str, now: i64) -> Result<(), ApiError> {
    match app.store.claim_consent(token_hash, now).await {
        Ok(()) => Ok(()),
        Err(err) if err.is_conflict() => Err(match app.store.get_consent(token_hash).await? {
            Some(record) if record.state == ConsentState::Used => used(&record),
            _ => expired(),
        }),
        Err(err) => Err(err.into()),
    }
}

fn used(record: &ConsentRecord) -> ApiError {
    let mut details = json!({ "reason": "used" });
    if let Some(result) = record.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()) {
        details["result"] = result;
    }
    ApiError::new(
        ErrorKind::InvalidConfirmToken,
        "This confirm token was used already; `details.result` has what that call did, when known.",
    )
    .with_details(details)
}
