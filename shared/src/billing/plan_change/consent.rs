//! Chat-mode consent: the agent is given a confirm token and a sentence with real amounts to
//! show its human; repeating the call with the token executes the change, once.

use serde_json::{Value, json};

use super::answer::{Applied, ConfirmationRequired, ConfirmationRequiredStatus, ConsentChange};
use super::execute::{AskedBy, NotRun, execute, settle};
use super::{Asked, Question};
use crate::App;
use crate::billing::load_org;
use crate::domain::activity::{Activity, Event};
use crate::domain::change::IntentClaim;
use crate::domain::ids::{hash, random_hex};
use crate::domain::org::Org;
use crate::domain::principal::Actor;
use crate::domain::principal::Principal;
use crate::error::{ApiError, ErrorKind};
use crate::metrics;
use crate::store::{ConsentRecord, ConsentState};
use crate::stripe::idempotency_key;
use crate::telemetry::current_request_id;

/// How long a confirm token is valid.
pub const TOKEN_TTL_SECS: i64 = 60;
/// 128 random bits and then some.
const TOKEN_BYTES: usize = 24;

fn invalid_token(reason: &str, message: &str) -> ApiError {
    ApiError::new(ErrorKind::InvalidConfirmToken, message).with_details(json!({ "reason": reason }))
}

fn expired() -> ApiError {
    metrics::consent_expired();
    invalid_token("expired", "This confirm token has expired: ask again without a token.")
}

/// The first call of the handshake: stores the token's hash with what it is bound to and
/// answers `confirmation_required`; nothing changes.
pub(super) async fn ask(
    app: &App,
    principal: &Principal,
    org: &Org,
    asked: Asked<'_>,
    question: Question<'_>,
    now: i64,
) -> Result<ConfirmationRequired, ApiError> {
    let token = format!("ct_{}", random_hex(TOKEN_BYTES));
    let change = question.change;
    let record = ConsentRecord {
        token_hash: hash(&token),
        org_id: org.org_id.clone(),
        principal_id: principal.principal_id.clone(),
        key_id: Some(principal.key_id.clone()),
        action: asked.action.to_string(),
        params: asked.params.to_string(),
        generation: org.change_generation,
        proration_date: change.proration_date,
        change: change.clone(),
        valid_until: now + TOKEN_TTL_SECS,
        state: ConsentState::Pending,
        result: None,
    };
    let event = Event::ConsentRequested {
        action: asked.action.to_string(),
        to: change.to.clone(),
        amount_due_now: change.amount_due_now,
        expires_at: record.valid_until,
    };
    app.store.put_consent(&record, &Activity::new(&org.org_id, now, Actor::of(principal), event, current_request_id())).await?;
    metrics::consent_asked();
    tracing::info!(org_id = %org.org_id, principal_id = %principal.principal_id, action = asked.action, "confirmation required");
    Ok(ConfirmationRequired {
        status: ConfirmationRequiredStatus::ConfirmationRequired,
        confirm_token: token,
        expires_in: TOKEN_TTL_SECS,
        message: question.message,
        change: ConsentChange::of(change, &app.config.catalog.currency),
        uncovered: question.uncovered,
    })
}

/// The second call of the handshake: checks the token, then executes the change it is for.
pub(super) async fn confirm(
    app: &App,
    principal: &Principal,
    action: &str,
    params: &str,
    token: &str,
    now: i64,
) -> Result<Applied, ApiError> {
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
        return Err(used_after_settling(app, record, now).await);
    }
    if record.valid_until <= now {
        return Err(expired());
    }
    let change = record.change.clone();
    let key = idempotency_key(&["plan_change", &record.org_id, &token_hash]);
    let claim = IntentClaim::Token { token_hash };
    let org = load_org(&app.store, &record.org_id).await?;
    let requester = Actor::agent(&record.principal_id, record.key_id.as_deref());
    let asked_by = AskedBy { requester, claim: Some(claim), decision: None };
    match execute(app, &org, &change, record.generation, &key, asked_by, now).await {
        Ok(answer) => {
            metrics::consent_confirmed();
            Ok(answer)
        }
        Err(NotRun::Failed(error)) => Err(error),
        Err(NotRun::ClaimTaken) => Err(refused(app, &record.token_hash, now).await),
        // A token used by a call that has finished since is `used`; an unused one is void.
        Err(NotRun::Stale) => match app.store.get_consent(&record.token_hash).await? {
            Some(current) if current.state == ConsentState::Used => Err(used_after_settling(app, current, now).await),
            _ => Err(invalid_token("mismatch", "The plan changed since this confirmation was given; nothing was changed. Ask again.")),
        },
    }
}

/// The answer to a used token, with what its change did: if that change is still the org's
/// intent (its function died before recording the result), it is completed first.
async fn used_after_settling(app: &App, record: ConsentRecord, now: i64) -> ApiError {
    if record.result.is_some() {
        return used(&record);
    }
    let settled = async {
        let org = load_org(&app.store, &record.org_id).await?;
        if org.change_intent.as_ref().is_some_and(|intent| intent.claims(&record.token_hash)) {
            settle(app, org, now).await?;
        }
        Ok::<_, ApiError>(app.store.get_consent(&record.token_hash).await?)
    };
    match settled.await {
        Ok(Some(record)) => used(&record),
        Ok(None) => used(&record),
        Err(error) => error,
    }
}

/// Why a token could not be claimed: used by a concurrent call (whose change is completed here
/// if need be, so the answer carries its result), or lapsed in between.
async fn refused(app: &App, token_hash: &str, now: i64) -> ApiError {
    match app.store.get_consent(token_hash).await {
        Ok(Some(record)) if record.state == ConsentState::Used => used_after_settling(app, record, now).await,
        Ok(_) => expired(),
        Err(err) => err.into(),
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
