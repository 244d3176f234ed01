//! `POST /billing/mandates` (a HUMAN or ADMIN grants an AGENT key standing consent),
//! `GET /billing/mandates` (an AGENT sees its own), `DELETE /billing/mandates/{mandate_id}`
//! (revoked at once); and `draw`, which the agent's actions call to act inside their mandate.
//! The envelope's rules are `domain::mandate`; the atomic accounting is the store's.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::domain::activity::{Activity, Event};
use crate::domain::calendar::{format_instant, parse_instant};
use crate::domain::ids::random_hex;
use crate::domain::mandate::{Draw, Mandate, MandateLimits, MandateStatus, MandateUse, Remaining, Uncovered, Used, check_grant};
use crate::domain::principal::Actor;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::{ApiError, ErrorKind};
use crate::telemetry::current_request_id;

/// 128 random bits.
const ID_BYTES: usize = 16;

/// The body of `POST /billing/mandates`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// The AGENT key of the org the mandate is for (its key id, as `billing-admin` prints it).
    pub agent_key_id: String,
    #[serde(deserialize_with = "MandateLimits::object")]
    pub limits: MandateLimits,
    /// At most 90 days ahead: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` or epoch seconds.
    #[schema(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?|[0-9]{1,18})$", example = "2027-03-01")]
    pub expires_at: String,
}

/// A mandate as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MandateView {
    pub mandate_id: String,
    pub agent_key_id: String,
    pub status: MandateStatus,
    pub limits: MandateLimits,
    /// What the agent drew this month and today.
    pub used: Used,
    /// What is left of each bounded limit (`null`: not bounded).
    pub remaining: Remaining,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// The key id of the human who granted it.
    pub granted_by: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl MandateView {
    pub fn of(mandate: &Mandate, now: i64) -> Self {
        Self {
            mandate_id: mandate.mandate_id.clone(),
            agent_key_id: mandate.agent_key_id.clone(),
            status: mandate.status(now),
            limits: mandate.limits.clone(),
            used: mandate.used(now),
            remaining: mandate.remaining(now),
            expires_at: format_instant(mandate.valid_until),
            granted_by: mandate.granted_by.clone(),
            created_at: format_instant(mandate.created_at),
            revoked_at: mandate.revoked_at.map(format_instant),
        }
    }
}

/// `GET /billing/mandates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MandateList {
    pub data: Vec<MandateView>,
}

/// What an action done inside a mandate says about it: which one, and what is left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MandateUsed {
    pub mandate_id: String,
    pub remaining: Remaining,
}

/// The route that asks a human for a mandate, and why an agent would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AskForMandate {
    /// `POST /billing/mandates/request`.
    pub api: &'static str,
    pub why: &'static str,
}

/// Why an AGENT's action needs its human (a consent, or a Checkout), and how to stop asking
/// each time: part of every such answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MandateUncovered {
    /// Why the agent's mandate did not cover the action: `no_mandate`, `expired`, `revoked`, or
    /// the limit it would pass (`max_plan`, `max_quantity`, `credit_bundles_per_month`,
    /// `max_charge_per_month`).
    pub mandate_limit: String,
    /// How the agent can ask its human for a mandate instead of asking each time.
    pub ask_for_mandate: AskForMandate,
}

impl MandateUncovered {
    pub fn of(limit: Uncovered) -> Self {
        Self {
            mandate_limit: limit.0.to_string(),
            ask_for_mandate: AskForMandate {
                api: "POST /billing/mandates/request",
                why: "A human can approve an envelope once (plan, money per month, credits) so that the agent's changes inside it need no confirmation each time.",
            },
        }
    }
}

fn only_humans(principal: &Principal, what: &str) -> Result<(), ApiError> {
    match principal.kind {
        PrincipalKind::Agent => Err(ApiError::forbidden(format!(
            "An agent key cannot {what} a mandate: a human of the org does, with their own key. An agent asks with POST /billing/mandates/request."
        ))),
        PrincipalKind::Human | PrincipalKind::Admin => Ok(()),
    }
}

/// Grants `body` to an AGENT key of the caller's org: 201 with the mandate, 409
/// `mandate_exists` while that key holds an active one (revoke it first).
pub async fn grant(app: &App, principal: &Principal, body: &GrantBody, now: i64) -> Result<MandateView, ApiError> {
    only_humans(principal, "grant")?;
    let expires_at = parse_instant(&body.expires_at)
        .ok_or_else(|| ApiError::field("expires_at", "must be a date (YYYY-MM-DD), a UTC time (YYYY-MM-DDTHH:MM:SSZ) or epoch seconds"))?;
    check_grant(&body.limits, expires_at, &app.config.catalog, now)?;
    let key = app.store.get_api_key(&body.agent_key_id).await?;
    let agent = key.filter(|k| k.org_id == principal.org_id && k.revoked_at.is_none());
    match agent {
        None => return Err(ApiError::field("agent_key_id", "is not a live API key of this org")),
        Some(k) if k.kind != PrincipalKind::Agent => {
            return Err(ApiError::field("agent_key_id", "is not an AGENT key: only agents act under mandates"));
        }
        Some(_) => {}
    }
    let mandate = new_mandate(&principal.org_id, &body.agent_key_id, &body.limits, expires_at, principal, now);
    let event = Event::MandateGranted {
        mandate_id: mandate.mandate_id.clone(),
        agent_key_id: mandate.agent_key_id.clone(),
        limits: mandate.limits.clone(),
        expires_at,
    };
    let granted = Activity::new(&principal.org_id, now, Actor::of(principal), event, current_request_id());
    if !app.store.put_mandate(&mandate, &granted, now).await? {
        return Err(mandate_exists());
    }
    tracing::info!(org_id = %principal.org_id, mandate_id = %mandate.mandate_id, agent_key_id = %mandate.agent_key_id, "mandate granted");
    Ok(MandateView::of(&mandate, now))
}

/// A fresh mandate for `agent_key_id` of `org_id`, granted by the human `by` at `now`.
pub(crate) fn new_mandate(org_id: &str, agent_key_id: &str, limits: &MandateLimits, valid_until: i64, by: &Principal, now: i64) -> Mandate {
    Mandate {
        mandate_id: format!("md_{}", random_hex(ID_BYTES)),
        org_id: org_id.to_string(),
        agent_key_id: agent_key_id.to_string(),
        limits: limits.clone(),
        valid_until,
        granted_by: by.key_id.clone(),
        created_at: now,
        revoked_at: None,
        revoked_by: None,
        used: Default::default(),
    }
}

/// The org's mandates (an AGENT's own only), newest first.
pub async fn list(app: &App, principal: &Principal, now: i64) -> Result<MandateList, ApiError> {
    let mut mandates = match principal.kind {
        PrincipalKind::Agent => app.store.get_mandate(&principal.org_id, &principal.key_id).await?.into_iter().collect(),
        PrincipalKind::Human | PrincipalKind::Admin => app.store.mandates(&principal.org_id).await?,
    };
    mandates.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.mandate_id.cmp(&b.mandate_id)));
    Ok(MandateList { data: mandates.iter().map(|m| MandateView::of(m, now)).collect() })
}

/// Revokes a mandate of the caller's org at once: the agent's next action is outside it.
/// Revoking a revoked one answers it as it is.
pub async fn revoke(app: &App, principal: &Principal, mandate_id: &str, now: i64) -> Result<MandateView, ApiError> {
    only_humans(principal, "revoke")?;
    revoke_as(app, &principal.org_id, mandate_id, (Actor::of(principal), &principal.key_id), now).await
}

/// Revokes a mandate of `org_id` as `by` (the actor of its record, and the key id or name it
/// keeps as `revoked_by`): the operator's CLI, or a human's key.
pub async fn revoke_as(app: &App, org_id: &str, mandate_id: &str, by: (Actor, &str), now: i64) -> Result<MandateView, ApiError> {
    let not_found = || ApiError::not_found("No mandate with this id in your org.");
    let mandates = app.store.mandates(org_id).await?;
    let mut mandate = mandates.into_iter().find(|m| m.mandate_id == mandate_id).ok_or_else(not_found)?;
    if mandate.revoked_at.is_some() {
        return Ok(MandateView::of(&mandate, now));
    }
    let event = Event::MandateRevoked { mandate_id: mandate.mandate_id.clone(), agent_key_id: mandate.agent_key_id.clone() };
    let (actor, revoked_by) = by;
    let revoked = Activity::new(org_id, now, actor, event, current_request_id());
    if app.store.revoke_mandate(&mandate, revoked_by, now, &revoked).await? {
        tracing::info!(org_id, mandate_id, "mandate revoked");
        mandate.revoked_at = Some(now);
        mandate.revoked_by = Some(revoked_by.to_string());
        return Ok(MandateView::of(&mandate, now));
    }
    // Revoked (or replaced) meanwhile: say what it is now.
    let current = app.store.get_mandate(org_id, &mandate.agent_key_id).await?;
    current.filter(|m| m.mandate_id == mandate_id).map(|m| MandateView::of(&m, now)).ok_or_else(not_found)
}

/// Whether `mandate` (the agent's, as read) covers `action`: the draw to write with it, or
/// the limit that stops it (`no_mandate` without one).
pub fn cover<'m>(app: &App, mandate: Option<&'m Mandate>, action: &MandateUse<'_>, now: i64) -> Result<(&'m Mandate, Draw), Uncovered> {
    let mandate = mandate.ok_or(Uncovered("no_mandate"))?;
    Ok((mandate, mandate.draw(action, &app.config.catalog, now)?))
}

/// What an action drawn from `mandate` leaves of it.
pub fn used_for(mandate: &Mandate, draw: &Draw, now: i64) -> MandateUsed {
    let mut after = mandate.clone();
    for item in &draw.items {
        *after.used.entry(item.key.clone()).or_default() += item.amount;
    }
    MandateUsed { mandate_id: mandate.mandate_id.clone(), remaining: after.remaining(now) }
}

pub fn mandate_exists() -> ApiError {
    ApiError::new(
        ErrorKind::MandateExists,
        "This agent key holds an active mandate. Revoke it first (DELETE /billing/mandates/{mandate_id}), then grant the new one.",
    )
}

/// The refusal of an agent's action outside its mandate when no consent handshake applies.
pub fn outside(limit: Uncovered) -> ApiError {
    ApiError::new(
        ErrorKind::MandateLimitReached,
        format!(
            "This agent's mandate does not cover this ({}). A human of the org can widen it by granting a new one; the agent can ask with POST /billing/mandates/request.",
            limit.0
        ),
    )
    .with_details(serde_json::json!({ "mandate_limit": limit.0, "request": { "api": "POST /billing/mandates/request" } }))
}
