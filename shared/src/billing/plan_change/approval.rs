//! Web-mode consent: the agent gets an approval (a page URL for its human, a polling URL for
//! itself, a binding code for both to compare); a HUMAN of the org approves or denies it on the
//! page; approving executes the bound change once, as that human. Polling follows RFC 8628:
//! `interval`, `slow_down` with the interval raised, `expired` once it lapses.

use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::answer::{ApprovalDecided, ApprovalView, Approved, ConsentChange, DecisionStatus, WebApproveRequired};
use super::execute::{AskedBy, NotRun, execute, settle};
use super::{Asked, Caller, Question};
use crate::App;
use crate::billing::web_approval::WebApproval;
use crate::billing::{load_org, mandate_request};
use crate::domain::activity::{Activity, Decision, Event};
use crate::domain::approval::{ApprovalState, Pace, PublicStatus, pace, public_status};
use crate::domain::change::IntentClaim;
use crate::domain::ids::hash;
use crate::domain::org::Org;
use crate::domain::principal::Actor;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::{ApiError, ErrorKind};
use crate::metrics;
use crate::store::ApprovalRecord;
use crate::stripe::idempotency_key;
use crate::telemetry::current_request_id;

/// The body of approve and deny: nothing (`{}`, or no body), so a misspelt field is refused
/// rather than ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {}

/// The first call in web mode: stores the approval (its id hashed) and answers
/// `web-approve-required`; nothing changes.
pub(super) async fn ask(
    app: &App,
    caller: &Caller<'_>,
    org: &Org,
    asked: Asked<'_>,
    question: Question<'_>,
    now: i64,
) -> Result<WebApproveRequired, ApiError> {
    let change = question.change;
    let (id, mut record) = ApprovalRecord::ask(caller.principal, org, asked.action, asked.params, question.message, now);
    record.change = Some(change.clone());
    let to = change.to.clone();
    let event = Event::ApprovalRequested { action: asked.action.to_string(), to, expires_at: record.valid_until };
    app.store.put_approval(&record, &Activity::new(&org.org_id, now, Actor::of(caller.principal), event, current_request_id())).await?;
    metrics::approval_asked();
    tracing::info!(org_id = %org.org_id, principal_id = %record.principal_id, action = asked.action, "web approval required");
    Ok(WebApproveRequired {
        approval: WebApproval::of(caller.base_url, id, &record),
        change: ConsentChange::of(change, &app.config.catalog.currency),
        uncovered: question.uncovered,
    })
}

/// `GET /billing/approvals/{id}`: any principal of the org. An AGENT polling before its
/// interval is up gets `slow_down` (429, `Retry-After`) and a longer interval from then on.
pub async fn status(app: &App, principal: &Principal, id: &str, now: i64) -> Result<ApprovalView, ApiError> {
    let (record, org) = load_settled(app, principal, id, now).await?;
    let status = status_of(&record, &org, now);
    let mut interval = record.interval;
    if principal.kind == PrincipalKind::Agent && status == PublicStatus::Pending {
        interval = paced(app, &record, now).await?;
    }
    if principal.kind == PrincipalKind::Agent && status == PublicStatus::Expired {
        metrics::approval_expired();
    }
    Ok(view(app, id, &record, &org, status, interval, now))
}

/// Records one poll of a pending approval; its interval, or `slow_down` if it came too early.
async fn paced(app: &App, record: &ApprovalRecord, now: i64) -> Result<i64, ApiError> {
    let (interval, next_poll_at) = match pace(record.next_poll_at, record.interval, now) {
        Pace::Ok { next_poll_at } => match app.store.record_poll(&record.id_hash, record.next_poll_at, next_poll_at).await {
            Ok(()) => return Ok(record.interval),
            // Another poll was recorded in between: this one came too early.
            Err(err) if err.is_conflict() => match pace(next_poll_at, record.interval, now) {
                Pace::SlowDown { interval, next_poll_at } => (interval, next_poll_at),
                Pace::Ok { .. } => return Ok(record.interval),
            },
            Err(err) => return Err(err.into()),
        },
        Pace::SlowDown { interval, next_poll_at } => (interval, next_poll_at),
    };
    match app.store.slow_poller_down(&record.id_hash, record.interval, interval, next_poll_at).await {
        // A concurrent poll raised it already: once per interval is enough.
        Ok(()) => {}
        Err(err) if err.is_conflict() => {}
        Err(err) => return Err(err.into()),
    }
    Err(slow_down(interval))
}

fn slow_down(interval: i64) -> ApiError {
    ApiError::new(ErrorKind::SlowDown, format!("Polling too fast: wait {interval} s between polls from now on."))
        .with_details(json!({ "interval": interval }))
}

/// `POST /billing/approvals/{id}/approve`: a HUMAN (or ADMIN) of the org executes the bound
/// change, once, as themselves.
pub async fn approve(app: &App, principal: &Principal, id: &str, now: i64) -> Result<ApprovalDecided, ApiError> {
    let (record, org) = load_for_decision(app, principal, id, now).await?;
    let Some(change) = record.change.clone() else {
        let decided = decision(&record, principal, Decision::Approved, now);
        return match mandate_request::approve(app, principal, &record, decided, now).await? {
            Some(mandate) => {
                metrics::approval_approved();
                Ok(decision_taken(DecisionStatus::Approved, id, Some(Approved::Mandate(Box::new(mandate)))))
            }
            None => Err(decided_meanwhile(app, principal, id, now).await),
        };
    };
    let key = idempotency_key(&["plan_change", &record.org_id, &record.id_hash]);
    let claim = IntentClaim::Approval { id_hash: record.id_hash.clone(), by: principal.principal_id.clone() };
    let decided = decision(&record, principal, Decision::Approved, now);
    let asked_by = AskedBy { requester: requester(&record), claim: Some(claim), decision: Some(decided) };
    let outcome = execute(app, &org, &change, record.generation, &key, asked_by, now).await;
    tracing::info!(org_id = %org.org_id, principal_id = %principal.principal_id, approved = outcome.is_ok(), "web approval decided");
    match outcome {
        Ok(answer) => {
            metrics::approval_approved();
            Ok(decision_taken(DecisionStatus::Approved, id, Some(Approved::Change(Box::new(answer)))))
        }
        Err(NotRun::Failed(error)) => Err(error),
        // Lost to a concurrent decision: say what the approval became (its change settled).
        Err(NotRun::ClaimTaken) => Err(refused(app, &record.id_hash, now).await),
        // The plan moved on: a still pending approval is void, a decided one says so.
        Err(NotRun::Stale) => Err(decided_meanwhile(app, principal, id, now).await),
    }
}

/// `POST /billing/approvals/{id}/deny`: a HUMAN (or ADMIN) of the org refuses; nothing changes.
pub async fn deny(app: &App, principal: &Principal, id: &str, now: i64) -> Result<ApprovalDecided, ApiError> {
    let (record, _) = load_for_decision(app, principal, id, now).await?;
    let decided = decision(&record, principal, Decision::Denied, now);
    match app.store.decide_approval(&record.id_hash, ApprovalState::Denied, &principal.principal_id, now, &decided).await {
        Ok(()) => {}
        Err(err) if err.is_conflict() => return Err(decided_meanwhile(app, principal, id, now).await),
        Err(err) => return Err(err.into()),
    }
    tracing::info!(org_id = %record.org_id, principal_id = %principal.principal_id, "web approval denied");
    metrics::approval_denied();
    Ok(decision_taken(DecisionStatus::Denied, id, None))
}

fn decision_taken(status: DecisionStatus, id: &str, result: Option<Approved>) -> ApprovalDecided {
    ApprovalDecided { status, approval_id: id.to_string(), result }
}

/// The agent that asked for the approval's change.
fn requester(record: &ApprovalRecord) -> Actor {
    Actor::agent(&record.principal_id, record.key_id.as_deref())
}

/// The record of a human's decision on an approval.
fn decision(record: &ApprovalRecord, by: &Principal, decision: Decision, now: i64) -> Activity {
    let event = match &record.change {
        Some(change) => Event::ApprovalDecided { action: record.action.clone(), to: change.to.clone(), decision },
        None => Event::MandateRequestDecided { agent_key_id: record.key_id.clone().unwrap_or_default(), decision },
    };
    Activity::new(&record.org_id, now, Actor::of(by), event, current_request_id())
}

/// Why an approval could not be claimed: decided (or lapsed) first. One executing is settled
/// first, so the answer carries what its change did.
async fn refused(app: &App, id_hash: &str, now: i64) -> ApiError {
    let settled = async {
        let record = app.store.get_approval(id_hash).await?.ok_or_else(|| ApiError::internal("An approval vanished."))?;
        let record = settle_executing(app, record, now).await?;
        Ok::<_, ApiError>(closed(&record, public_status(record.state, record.valid_until, false, now)))
    };
    settled.await.unwrap_or_else(|error| error)
}

/// An approval whose change is executing, after that change is completed (its function may
/// have died before recording the result): completing it records the approval's outcome.
async fn settle_executing(app: &App, record: ApprovalRecord, now: i64) -> Result<ApprovalRecord, ApiError> {
    if record.state != ApprovalState::Executing {
        return Ok(record);
    }
    let org = load_org(&app.store, &record.org_id).await?;
    if org.change_intent.as_ref().is_some_and(|intent| intent.claims(&record.id_hash)) {
        settle(app, org, now).await?;
    }
    Ok(app.store.get_approval(&record.id_hash).await?.unwrap_or(record))
}

/// The approval and its org for `principal`: another org's (or an unknown) approval is 404.
async fn load(app: &App, principal: &Principal, id: &str) -> Result<(ApprovalRecord, Org), ApiError> {
    let (record, org) = app.store.get_approval_and_org(&hash(id), &principal.org_id).await?;
    match (record.filter(|r| r.org_id == principal.org_id), org) {
        (Some(record), Some(org)) => Ok((record, org)),
        _ => Err(ApiError::not_found("No approval with this id in your org.")),
    }
}

/// `load`, with an executing approval's change completed first.
async fn load_settled(app: &App, principal: &Principal, id: &str, now: i64) -> Result<(ApprovalRecord, Org), ApiError> {
    let (record, org) = load(app, principal, id).await?;
    if record.state != ApprovalState::Executing {
        return Ok((record, org));
    }
    settle_executing(app, record, now).await?;
    load(app, principal, id).await
}

/// `load_settled`, for a HUMAN or ADMIN deciding an approval that is still pending.
async fn load_for_decision(app: &App, principal: &Principal, id: &str, now: i64) -> Result<(ApprovalRecord, Org), ApiError> {
    if principal.kind == PrincipalKind::Agent {
        return Err(ApiError::forbidden("An agent key cannot approve or deny: a human of the org decides, with their own key."));
    }
    let (record, org) = load_settled(app, principal, id, now).await?;
    match status_of(&record, &org, now) {
        PublicStatus::Pending if record.state == ApprovalState::Pending => Ok((record, org)),
        status => Err(closed(&record, status)),
    }
}

/// Why a decision lost to another: read what the approval became.
async fn decided_meanwhile(app: &App, principal: &Principal, id: &str, now: i64) -> ApiError {
    match load(app, principal, id).await {
        Ok((record, org)) => closed(&record, status_of(&record, &org, now)),
        Err(err) => err,
    }
}

/// A plan change computed for a plan that has changed since can no longer run; a mandate
/// request does not depend on the plan.
fn status_of(record: &ApprovalRecord, org: &Org, now: i64) -> PublicStatus {
    let stale = record.change.is_some() && org.change_generation != record.generation;
    public_status(record.state, record.valid_until, stale, now)
}

/// The refusal for an approval that is no longer pending, saying what it became.
fn closed(record: &ApprovalRecord, status: PublicStatus) -> ApiError {
    let message = match status {
        PublicStatus::Approved => "This approval was approved already; its change ran once (`details.result`).",
        PublicStatus::Denied => "This approval was denied; nothing was changed. The agent can ask again.",
        PublicStatus::Expired => "This approval expired before it was decided; nothing was changed. The agent can ask again.",
        PublicStatus::Failed => "This approval can no longer run (the plan changed, or its change failed); see `details.result`.",
        PublicStatus::Pending => "A human approved this approval and its change is being confirmed with Stripe; poll again shortly.",
    };
    let mut details = json!({ "status": status.as_str() });
    if let Some(result) = stored_result(record) {
        details["result"] = result;
    }
    ApiError::new(ErrorKind::ApprovalNotPending, message).with_details(details)
}

fn stored_result(record: &ApprovalRecord) -> Option<Value> {
    record.result.as_deref().and_then(|r| serde_json::from_str(r).ok())
}

/// What a poller and the approval page see.
fn view(app: &App, id: &str, record: &ApprovalRecord, org: &Org, status: PublicStatus, interval: i64, now: i64) -> ApprovalView {
    ApprovalView {
        approval_id: id.to_string(),
        status,
        action: record.action.clone(),
        org_id: org.org_id.clone(),
        org_name: org.name.clone(),
        requested_by: record.principal_id.clone(),
        binding_code: record.binding_code.clone(),
        message: record.message.clone(),
        change: record.change.as_ref().map(|change| ConsentChange::of(change, &app.config.catalog.currency)),
        mandate: record.mandate.as_ref().map(|ask| mandate_request::asked(app, ask)),
        expires_at: record.valid_until,
        expires_in: (record.valid_until - now).max(0),
        interval,
        decided_by: record.decided_by.clone(),
        result: stored_result(record),
    }
}
