//! `POST /billing/usage/{resource}/reserve` and `/release`: count what the product creates and
//! frees, never past the effective cap, even under concurrency.
//!
//! Without an `Idempotency-Key` a call is ONE conditional UpdateItem against the caps
//! materialised on the org item (`store::caps`); it reads nothing first, so concurrent
//! reservations never lose to each other. With a key, the answer must be stored with the
//! effect, and DynamoDB cannot write an answer it has not computed: the call reads the org and
//! the key's record together, decides, and writes the exact new count, the headroom and the
//! answer in one transaction, re-reading when a concurrent call moved the count first.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::App;
use crate::billing::idempotency::{Answer, IdempotencyKey, fingerprint};
use crate::billing::limits::parse_resource;
use crate::domain::activity::{Activity, Event, thresholds_crossed};
use crate::domain::catalog::{Plan, Resource};
use crate::domain::entitlements::{Call, Limit, NextCalls, PlanLimitReached, effective_plan, limit, usage_period_end, usage_period_over};
use crate::domain::org::Org;
use crate::domain::principal::Actor;
use crate::domain::principal::Principal;
use crate::error::{ApiError, ErrorKind};
use crate::retry::{Failure, Policy, retry};
use crate::store::{Counted, Delta, ExactCount, Written};
use crate::telemetry::current_request_id;

/// The most one call may count.
pub const MAX_COUNT: u64 = 1000;

/// The body of reserve and release (optional: `count` defaults to 1).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountBody {
    /// How many to count: 1 to 1000, default 1.
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 1, maximum = 1000)]
    pub count: Option<u64>,
}

/// The answer of a reserve: the resource's new standing and what was counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reserved {
    pub resource: Resource,
    pub active: u64,
    /// `null` is unlimited.
    pub cap: Option<u64>,
    /// `null` when unlimited.
    pub remaining: Option<u64>,
    pub reserved: u64,
}

/// The answer of a release: the resource's new standing and what was freed (at most what
/// was held).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Released {
    pub resource: Resource,
    pub active: u64,
    /// `null` is unlimited.
    pub cap: Option<u64>,
    /// `null` when unlimited.
    pub remaining: Option<u64>,
    pub released: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Reserve,
    Release,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Reserve => "reserve",
            Self::Release => "release",
        }
    }
}

fn org_gone() -> ApiError {
    ApiError::not_found("The org of this key no longer exists.")
}

/// The effective plan and the resource's limit at `now`.
fn limit_of<'c>(app: &'c App, org: &Org, resource: Resource, now: i64) -> (&'c Plan, Limit) {
    let plan = effective_plan(org, &app.config.catalog, now, app.config.past_due_grace_secs);
    (plan, limit(org, plan, resource, now))
}

/// The answer: the resource's new `active`, `cap` and `remaining`, and what was counted.
fn counted_body(app: &App, org: &Org, resource: Resource, operation: Operation, counted: u64, now: i64) -> Value {
    let (_, limit) = limit_of(app, org, resource, now);
    let (active, cap, remaining) = (limit.active, limit.cap, limit.remaining());
    let body = match operation {
        Operation::Reserve => serde_json::to_value(Reserved { resource, active, cap, remaining, reserved: counted }),
        Operation::Release => serde_json::to_value(Released { resource, active, cap, remaining, released: counted }),
    };
    body.unwrap_or(Value::Null)
}

/// The next steps a 402 `plan_limit_reached` names: the upgrade and the limit-increase request,
/// as routes and as MCP tools (`mcp::tools` lists these names).
pub const NEXT_CALLS: NextCalls = NextCalls {
    upgrade: Call { api: "POST /billing/upgrade", mcp_tool: "upgrade_plan" },
    increase: Call { api: "POST /billing/request-limit-increase", mcp_tool: "request_limit_increase" },
};

/// 402 `plan_limit_reached`, with the next step in `details`. The refusal changes nothing, so
/// its `billing.limit_reached` record is written alone, once per org, resource and minute (a
/// looping client cannot flood the bus); failing to write it does not change the answer.
async fn plan_limit_reached(app: &App, principal: &Principal, org: &Org, plan: &Plan, limit: &Limit, requested: u64, now: i64) -> ApiError {
    crate::metrics::plan_limit_reached(limit.resource, &plan.id);
    let details = PlanLimitReached::new(org, &app.config.catalog, plan, limit, requested, NEXT_CALLS);
    let resource = limit.resource.as_str();
    let event =
        Event::LimitReached { resource: resource.to_string(), plan: plan.id.clone(), active: limit.active, cap: limit.cap.unwrap_or(0) };
    let once = format!("limit_reached#{}#{resource}#{}", org.org_id, now.div_euclid(60));
    if let Err(err) = app
        .store
        .record_activity_once(&Activity::new(&org.org_id, now, Actor::of(principal), event, current_request_id()), &once, now + 120)
        .await
    {
        tracing::warn!(org_id = %org.org_id, resource, error = %err, "the limit_reached record could not be written");
    }
    ApiError::new(ErrorKind::PlanLimitReached, details.message(&plan.name))
        .with_details(serde_json::to_value(&details).unwrap_or(Value::Null))
}

/// Reports the usage thresholds a reservation crossed, once per period each. Written after
/// the reservation (which stays one conditional write): a function that dies in between loses
/// that report, never the reservation.
async fn report_thresholds(app: &App, org: &Org, resource: Resource, counted: u64, now: i64) {
    let (plan, limit) = limit_of(app, org, resource, now);
    let after = org.usage_of(resource);
    for percent in thresholds_crossed(after.saturating_sub(counted), after, limit.cap) {
        let period = match resource {
            Resource::ApiCalls => org.usage_period_end,
            _ => org.current_period_end,
        }
        .unwrap_or(0);
        let event = Event::UsageThresholdCrossed {
            resource: resource.as_str().to_string(),
            plan: plan.id.clone(),
            percent,
            used: after,
            cap: limit.cap.unwrap_or(0),
        };
        let once = format!("usage_threshold#{}#{}#{period}#{percent}", org.org_id, resource.as_str());
        let keep_until = period.max(now) + THRESHOLD_MARKER_SECS;
        if let Err(err) = app
            .store
            .record_activity_once(&Activity::new(&org.org_id, now, Actor::System, event, current_request_id()), &once, keep_until)
            .await
        {
            tracing::warn!(org_id = %org.org_id, resource = resource.as_str(), error = %err, "a usage threshold record could not be written");
        }
    }
}

/// How long a threshold's report marker outlives its period (a free org has none: a year).
const THRESHOLD_MARKER_SECS: i64 = 366 * 86_400;

fn again() -> Failure<ApiError> {
    Failure::Transient(ApiError::contended())
}

/// Checks the request, then counts, plainly or under its key.
pub async fn count(
    app: &App,
    principal: &Principal,
    operation: Operation,
    resource: &str,
    body: &CountBody,
    key: Option<&IdempotencyKey>,
    now: i64,
) -> Result<Answer, ApiError> {
    let resource = parse_resource(resource)?;
    let count = body.count.unwrap_or(1);
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(ApiError::field("count", format!("must be a whole number from 1 to {MAX_COUNT}")));
    }
    if operation == Operation::Release && resource == Resource::ApiCalls {
        return Err(ApiError::field("resource", "`api_calls` counts calls per billing period; they are not released"));
    }
    match (key, operation) {
        (Some(key), _) => count_keyed(app, principal, operation, resource, count, key, now).await,
        (None, Operation::Reserve) => reserve(app, principal, resource, count, now).await.map(Answer::fresh),
        (None, Operation::Release) => release(app, &principal.org_id, resource, count, now).await.map(|body| Answer::fresh(Ok(body))),
    }
}

/// Repairs what made a refused write refuse for another reason than the cap: caps
/// materialised under other rules, an `api_calls` period that has ended. True if it did.
async fn repair(app: &App, org: &Org, resource: Resource, now: i64) -> Result<bool, Failure<ApiError>> {
    if !app.store.rules().is_current(org) {
        app.store.refresh_caps(org).await?;
        return Ok(true);
    }
    if resource == Resource::ApiCalls && usage_period_over(org, now) {
        app.store.roll_usage_period(org, usage_period_end(org, now)).await?;
        return Ok(true);
    }
    Ok(false)
}

/// One conditional write; a refusal is the 402 unless it was for a repairable reason.
async fn reserve(app: &App, principal: &Principal, resource: Resource, count: u64, now: i64) -> Result<Result<Value, ApiError>, ApiError> {
    let org_id = principal.org_id.as_str();
    retry(Policy::WRITE_RACE, "reserve_usage", |_| async move {
        let org = match app.store.count_usage(org_id, resource, Delta::Reserve(count), now).await? {
            Counted::Done(org) => {
                report_thresholds(app, &org, resource, count, now).await;
                return Ok(Ok(counted_body(app, &org, resource, Operation::Reserve, count, now)));
            }
            Counted::Refused(None) => return Err(Failure::Permanent(org_gone())),
            Counted::Refused(Some(org)) => org,
        };
        if repair(app, &org, resource, now).await? {
            return Err(again());
        }
        let (plan, limit) = limit_of(app, &org, resource, now);
        if limit.can_add(count) {
            // The stored headroom disagrees with the caps: rebuild it from the stored usage.
            tracing::warn!(org_id, resource = resource.as_str(), "materialised headroom disagreed with the caps; refreshing it");
            app.store.refresh_caps(&org).await?;
            return Err(again());
        }
        Ok(Err(plan_limit_reached(app, principal, &org, plan, &limit, count, now).await))
    })
    .await
}

/// One conditional write of `count`; when the org holds less, of what it holds (never below
/// 0), and nothing when it holds none.
async fn release(app: &App, org_id: &str, resource: Resource, count: u64, now: i64) -> Result<Value, ApiError> {
    let releasing = std::sync::atomic::AtomicU64::new(count);
    retry(Policy::WRITE_RACE, "release_usage", |_| {
        let releasing = &releasing;
        async move {
            let n = releasing.load(std::sync::atomic::Ordering::Relaxed);
            let org = match app.store.count_usage(org_id, resource, Delta::Release(n), now).await? {
                Counted::Done(org) => return Ok(counted_body(app, &org, resource, Operation::Release, n, now)),
                Counted::Refused(None) => return Err(Failure::Permanent(org_gone())),
                Counted::Refused(Some(org)) => org,
            };
            if repair(app, &org, resource, now).await? {
                return Err(again());
            }
            match org.usage_of(resource) {
                0 => Ok(counted_body(app, &org, resource, Operation::Release, 0, now)),
                held => {
                    releasing.store(held.min(count), std::sync::atomic::Ordering::Relaxed);
                    Err(again())
                }
            }
        }
    })
    .await
}

/// Read the org and the key's record, decide, and write the exact count with the answer; a
/// refusal stores its answer alone. A lost race reads again.
async fn count_keyed(
    app: &App,
    principal: &Principal,
    operation: Operation,
    resource: Resource,
    count: u64,
    key: &IdempotencyKey,
    now: i64,
) -> Result<Answer, ApiError> {
    let fingerprint = fingerprint(&[operation.name(), resource.as_str(), &count.to_string()]);
    let fingerprint = fingerprint.as_str();
    let org_id = principal.org_id.as_str();
    retry(Policy::CONTENDED, "count_usage_keyed", |_| async move {
        let (org, record) = app.store.org_and_idempotency(org_id, Some(&key.hash), now).await?;
        if let Some(record) = record {
            return Ok(Answer::replay(&record, fingerprint)?);
        }
        let org = org.ok_or_else(org_gone)?;
        // (An ended `api_calls` period is started anew by the write itself.)
        if !app.store.rules().is_current(&org) {
            app.store.refresh_caps(&org).await?;
            return Err(again());
        }
        let (plan, limit) = limit_of(app, &org, resource, now);
        let before = org.usage.get(&resource).copied();
        let new_period_end = (resource == Resource::ApiCalls && usage_period_over(&org, now)).then(|| usage_period_end(&org, now));
        let (after, counted) = match operation {
            Operation::Reserve if !limit.can_add(count) => {
                let answer = Answer::fresh(Err(plan_limit_reached(app, principal, &org, plan, &limit, count, now).await));
                return match app.store.put_idempotent_answer(org_id, &key.hash, &answer.record(fingerprint, now), now).await? {
                    None => Ok(answer),
                    Some(first) => Ok(Answer::replay(&first, fingerprint)?),
                };
            }
            Operation::Reserve => (limit.active + count, count),
            Operation::Release => {
                let held = before.unwrap_or(0);
                (held - held.min(count), held.min(count))
            }
        };
        let mut counted_org = org.clone();
        counted_org.usage.insert(resource, after);
        if new_period_end.is_some() {
            counted_org.usage_period_end = new_period_end;
        }
        let answer = Answer::fresh(Ok(counted_body(app, &counted_org, resource, operation, counted, now)));
        let record = answer.record(fingerprint, now);
        let written = if counted == 0 {
            match app.store.put_idempotent_answer(org_id, &key.hash, &record, now).await? {
                None => Written::Done,
                Some(first) => Written::KeyTaken(Some(first)),
            }
        } else {
            let exact = ExactCount { resource, before, after, new_period_end };
            app.store.count_usage_exactly(&org, &exact, &key.hash, &record, now).await?
        };
        match written {
            Written::Done => {
                if operation == Operation::Reserve {
                    report_thresholds(app, &counted_org, resource, counted, now).await;
                }
                Ok(answer)
            }
            Written::KeyTaken(Some(first)) => Ok(Answer::replay(&first, fingerprint)?),
            Written::KeyTaken(None) | Written::Changed => Err(again()),
        }
    })
    .await
}
