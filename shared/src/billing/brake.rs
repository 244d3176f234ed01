//! The brake for runaway agents (`domain::brake`): counting an AGENT key's refusals once its
//! answer is decided, pausing it past the org's threshold, and a human resuming it early
//! (`POST /billing/agents/{key_id}/resume`, `billing-admin resume-agent`). While a key is paused,
//! `http::serve` answers 429 `agent_paused` from the authorizer's context, before any handler.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::domain::activity::{Activity, Event};
use crate::domain::api_key::{ApiKeyRecord, is_key_id};
use crate::domain::brake::{self, MAX_REFUSALS_PER_MINUTE};
use crate::domain::principal::Actor;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::ApiError;
use crate::retry::{Failure, Policy, retry};
use crate::telemetry::current_request_id;

/// Counts the answer `status` given to `principal` toward its key's brake, and pauses the key
/// when it passes the org's threshold. Never changes the answer: a failure is logged, and the
/// count is a little low. Only AGENT keys have a brake.
pub async fn count_refusal(app: &App, principal: &Principal, status: u16, now: i64) {
    if principal.kind != PrincipalKind::Agent || !brake::is_refusal(status) {
        return;
    }
    if let Err(err) = count(app, principal, now).await {
        tracing::warn!(error = err.kind.code(), message = %err.message, "an agent's refusal could not be counted toward its brake");
    }
}

async fn count(app: &App, principal: &Principal, now: i64) -> Result<(), ApiError> {
    let minute = brake::minute_of(now);
    let refusals = app.store.count_refusal(&principal.key_id, minute).await?;
    // No org's threshold is below the lowest setting: most refusals need no read of the settings.
    if refusals <= u64::from(*MAX_REFUSALS_PER_MINUTE.start()) {
        return Ok(());
    }
    let settings = app.store.get_agent_brake(&principal.org_id).await?;
    if !brake::engages(&settings, refusals) {
        return Ok(());
    }
    let until = brake::paused_until(&settings, now);
    let event = Event::AgentPaused {
        key_id: principal.key_id.clone(),
        principal_id: principal.principal_id.clone(),
        refusals,
        max_refusals_per_minute: settings.max_refusals_per_minute,
        paused_until: until,
    };
    let activity = Activity::new(&principal.org_id, now, Actor::of(principal), event, current_request_id());
    if app.store.pause_agent(&principal.key_id, minute, settings.max_refusals_per_minute, until, now, &activity).await? {
        crate::metrics::agent_paused();
        tracing::warn!(key_id = %principal.key_id, refusals, paused_until = until, "the brake paused an agent key");
    }
    Ok(())
}

/// The body of a resume: nothing (`{}`, or no body), so a misspelt field is refused rather
/// than ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeBody {}

/// What a resume did: `resumed` (it was paused, and no longer is) or `not_paused` (nothing to
/// lift; its minute's count starts over all the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResumeStatus {
    Resumed,
    NotPaused,
}

/// The answer of `POST /billing/agents/{key_id}/resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Resumed {
    pub key_id: String,
    pub status: ResumeStatus,
}

/// A HUMAN or ADMIN of the key's org lifts an AGENT key's pause now (idempotent). Another org's
/// key, or a key that is not an AGENT's, is 404 (the same answer as no key: ids are not probed).
pub async fn resume(app: &App, principal: &Principal, key_id: &str, now: i64) -> Result<Resumed, ApiError> {
    if principal.kind == PrincipalKind::Agent {
        return Err(ApiError::forbidden("An agent key cannot resume an agent: a human of the org does, with their own key."));
    }
    let actor = Actor::of(principal);
    let status = resume_key(app, &principal.org_id, key_id, actor, now).await?;
    Ok(Resumed { key_id: key_id.to_string(), status })
}

/// Resumes the AGENT key `key_id` of `org_id` as `actor` (the admin CLI acts as the system).
pub async fn resume_key(app: &App, org_id: &str, key_id: &str, actor: Actor, now: i64) -> Result<ResumeStatus, ApiError> {
    let not_found = || ApiError::not_found(format!("No agent key {key_id} in this org."));
    if !is_key_id(key_id) {
        return Err(not_found());
    }
    retry(Policy::WRITE_RACE, "resume_agent", |_| {
        let actor = actor.clone();
        async move {
            let record: ApiKeyRecord = app.store.get_api_key(key_id).await?.ok_or_else(not_found)?;
            if record.org_id != org_id || record.kind != PrincipalKind::Agent {
                return Err(Failure::Permanent(not_found()));
            }
            let paused = brake::retry_after(record.paused_until, now).is_some();
            let activity = paused.then(|| {
                let event = Event::AgentResumed { key_id: record.key_id.clone(), principal_id: record.principal_id.clone() };
                Activity::new(org_id, now, actor, event, current_request_id())
            });
            match app.store.resume_agent(key_id, record.paused_until, activity.as_ref()).await? {
                true if paused => {
                    crate::metrics::agent_resumed();
                    Ok(ResumeStatus::Resumed)
                }
                true => Ok(ResumeStatus::NotPaused),
                false => Err(Failure::Transient(ApiError::contended())),
            }
        }
    })
    .await
}
