//! `POST /billing/request-limit-increase`: records that an org wants more (no ticket, no
//! email), and the admin's aggregate of those signals (`GET /admin/limit-signals`,
//! `billing-admin limit-signals`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::billing::load_org;
use crate::domain::activity::{Activity, Event};
use crate::domain::calendar::{INSTANT_FORMS, parse_instant};
use crate::domain::entitlements::{effective_plan, limit};
use crate::domain::invalid::FieldProblem;
use crate::domain::org::Org;
use crate::domain::principal::Actor;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::signals::{KindDemand, Signal, SignalKind, aggregate, clean_reason, with_bursts};
use crate::error::ApiError;
use crate::retry::{Failure, Policy, retry};
use crate::store::Repeat;
use crate::telemetry::current_request_id;

/// The largest `desiredValue`: far above any cap, and within what every JSON reader holds exactly.
pub const MAX_DESIRED_VALUE: u64 = 1_000_000_000_000;

/// The body (optional as a whole): `{kind?, desiredValue?, reason?}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncreaseBody {
    /// A gated resource (`agents`, `rows`, ...) or `other` (the default).
    #[serde(default)]
    #[schema(schema_with = crate::field_schemas::signal_kind)]
    pub kind: Option<String>,
    /// The cap the org would need: 1 to 1,000,000,000,000.
    #[serde(default, rename = "desiredValue", deserialize_with = "crate::domain::whole_number::optional")]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_u64)]
    pub desired_value: Option<u64>,
    /// Cut to 500 characters, never refused for its length.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Always `recorded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordedStatus {
    Recorded,
}

/// The answer of `POST /billing/request-limit-increase`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IncreaseRecorded {
    pub status: RecordedStatus,
    /// The stored signal this request was counted on.
    pub signal_id: String,
    /// The org's requests of this kind so far, this one included.
    pub count_for_kind: u64,
    /// False when it was counted on the same principal's signal of the last minute instead.
    pub stored: bool,
}

/// The admin's report: signals per kind, the orgs asking most first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SignalReport {
    /// The start asked for (epoch seconds); `null` is all time.
    pub since: Option<i64>,
    pub kinds: Vec<KindDemand>,
}

fn unknown_kind(field: &str, kind: &str) -> FieldProblem {
    FieldProblem::new(field, format!("`{kind}` is not a kind: use one of {}", SignalKind::names().join(", ")))
}

/// The problem of a `since` that is not one of the forms `parse_instant` reads.
pub fn bad_since() -> FieldProblem {
    FieldProblem::new("since", format!("must be a date: {INSTANT_FORMS}"))
}

fn new_signal_id() -> String {
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    format!("sig_{}", hex::encode(bytes))
}

/// The plan, and `active`/`cap` of the kind's resource, of `org` at `now`.
fn standing(app: &App, org: &Org, kind: SignalKind, now: i64) -> (String, Option<u64>, Option<u64>) {
    let plan = effective_plan(org, &app.config.catalog, now, app.config.past_due_grace_secs);
    match kind {
        SignalKind::Resource(resource) => {
            let limit = limit(org, plan, resource, now);
            (plan.id.clone(), Some(limit.active), limit.cap)
        }
        SignalKind::Other => (plan.id.clone(), None, None),
    }
}

/// Records the signal, or, within a minute of the same principal's last stored signal of the
/// same kind, counts it on that one: `{status: "recorded", signal_id, count_for_kind, stored}`.
pub async fn request_increase(app: &App, principal: &Principal, body: &IncreaseBody, now: i64) -> Result<IncreaseRecorded, ApiError> {
    let mut problems = Vec::new();
    let kind = match body.kind.as_deref() {
        None => SignalKind::Other,
        Some(text) => SignalKind::parse(text).unwrap_or_else(|| {
            problems.push(unknown_kind("kind", text));
            SignalKind::Other
        }),
    };
    if body.desired_value.is_some_and(|value| !(1..=MAX_DESIRED_VALUE).contains(&value)) {
        problems.push(FieldProblem::new("desiredValue", format!("must be a whole number from 1 to {MAX_DESIRED_VALUE}")));
    }
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let reason = clean_reason(body.reason.as_deref());
    let reason = &reason;
    let (org_id, kind_name) = (principal.org_id.as_str(), kind.as_str());
    retry(Policy::CONTENDED, "request_limit_increase", |_| async move {
        let read = match app.store.count_repeat(org_id, kind_name, &principal.principal_id, now).await? {
            Repeat::Counted { signal_id, count } => {
                return Ok(IncreaseRecorded { status: RecordedStatus::Recorded, signal_id, count_for_kind: count, stored: false });
            }
            Repeat::NotInBurst(read) => read,
        };
        let org = load_org(&app.store, org_id).await?;
        let (plan, active, cap) = standing(app, &org, kind, now);
        let signal = Signal {
            signal_id: new_signal_id(),
            org_id: org_id.to_string(),
            principal_id: principal.principal_id.clone(),
            principal_kind: principal.kind,
            kind: kind_name.to_string(),
            desired_value: body.desired_value,
            reason: reason.clone(),
            created_at: now,
            plan,
            active,
            cap,
            repeats: 1,
            last_at: now,
        };
        let event = Event::LimitIncreaseRequested {
            resource: signal.kind.clone(),
            plan: signal.plan.clone(),
            requested: signal.desired_value,
            signal_id: signal.signal_id.clone(),
        };
        let requested = Activity::new(org_id, now, Actor::of(principal), event, current_request_id());
        if !app.store.record_signal(&signal, read.as_ref(), &requested).await? {
            return Err(Failure::Transient(ApiError::contended()));
        }
        let count_for_kind = read.map_or(0, |r| r.count) + 1;
        Ok(IncreaseRecorded { status: RecordedStatus::Recorded, signal_id: signal.signal_id, count_for_kind, stored: true })
    })
    .await
    .inspect(|_| crate::metrics::limit_increase_requested(kind))
}

/// The admin's filter: a kind (else all) and a start (else all time).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignalQuery {
    pub kind: Option<SignalKind>,
    pub since: Option<i64>,
}

impl SignalQuery {
    pub fn parse(kind: Option<&str>, since: Option<&str>) -> Result<Self, ApiError> {
        let mut problems = Vec::new();
        let kind = kind.and_then(|text| {
            let parsed = SignalKind::parse(text);
            if parsed.is_none() {
                problems.push(unknown_kind("kind", text));
            }
            parsed
        });
        let since = since.and_then(|text| {
            let parsed = parse_instant(text);
            if parsed.is_none() {
                problems.push(bad_since());
            }
            parsed
        });
        match problems.is_empty() {
            true => Ok(Self { kind, since }),
            false => Err(ApiError::validation(problems)),
        }
    }
}

/// Signals aggregated per kind and org, the orgs asking most first, each with its plan and
/// cap now: `{since, kinds: [{kind, requests, orgs: [...]}]}`.
pub async fn report(app: &App, query: &SignalQuery, now: i64) -> Result<SignalReport, ApiError> {
    let signals = app.store.signals_since(query.kind.map(SignalKind::as_str), query.since.unwrap_or(0)).await?;
    let mut pairs: Vec<(String, String)> = signals.iter().map(|s| (s.org_id.clone(), s.kind.clone())).collect();
    pairs.sort();
    pairs.dedup();
    let mut org_ids: Vec<String> = pairs.iter().map(|(org_id, _)| org_id.clone()).collect();
    org_ids.dedup();
    // The orgs' standing now, and the bursts still held beside their counts: one BatchGetItem
    // per 100 keys.
    let (orgs, demands) = app.store.orgs_and_demands(&org_ids, &pairs).await?;
    let signals = with_bursts(signals, demands.iter().flat_map(|d| d.last.values()));
    let orgs: BTreeMap<String, Org> = orgs.into_iter().map(|o| (o.org_id.clone(), o)).collect();
    let mut report = aggregate(&signals);
    for kind_demand in &mut report {
        let Some(kind) = SignalKind::parse(&kind_demand.kind) else { continue };
        for demand in &mut kind_demand.orgs {
            if let Some(org) = orgs.get(&demand.org_id) {
                (demand.plan, demand.active, demand.cap) = standing(app, org, kind, now);
            }
        }
    }
    Ok(SignalReport { since: query.since, kinds: report })
}

/// The admin routes' gate: 403 for any principal but an ADMIN.
pub fn require_admin(principal: &Principal) -> Result<(), ApiError> {
    match principal.kind {
        PrincipalKind::Admin => Ok(()),
        _ => Err(ApiError::forbidden("Only ADMIN keys may read limit-increase signals.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_checks_kind_and_date() {
        let query = SignalQuery::parse(Some("agents"), Some("2025-01-31")).unwrap();
        assert_eq!(query.kind, SignalKind::parse("agents"));
        assert_eq!(query.since, parse_instant("2025-01-31"));
        assert_eq!(SignalQuery::parse(None, None).unwrap(), SignalQuery::default());
        let err = SignalQuery::parse(Some("gold"), Some("last tuesday")).unwrap_err();
        assert_eq!(err.details.unwrap()["fields"].as_array().unwrap().len(), 2);
    }
}
