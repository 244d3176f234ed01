//! `POST /billing/mandates/request`: an AGENT asks its human for a mandate. It answers as a web
//! approval does (a page URL for the human, a polling URL for the agent, a binding code for
//! both); the page shows the envelope in words and numbers, and a HUMAN or ADMIN of the org
//! approves (the mandate is granted, replacing the key's current one, as that human) or denies
//! it (nothing is granted) through the approvals API.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::billing::Caller;
use crate::billing::load_org;
use crate::billing::mandates::{MandateView, new_mandate};
use crate::billing::web_approval::WebApproval;
use crate::domain::activity::{Activity, Consent, Event};
use crate::domain::calendar::{format_instant, parse_instant};
use crate::domain::mandate::{EnvelopeLine, MandateAsk, MandateLimits, check_grant, envelope_lines};
use crate::domain::principal::Actor;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::signals::clean_reason;
use crate::error::ApiError;
use crate::metrics;
use crate::store::ApprovalRecord;
use crate::telemetry::current_request_id;

/// The body of `POST /billing/mandates/request`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MandateRequestBody {
    #[serde(deserialize_with = "MandateLimits::object")]
    pub limits: MandateLimits,
    /// At most 90 days ahead: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` or epoch seconds.
    #[schema(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?|[0-9]{1,18})$", example = "2027-03-01")]
    pub expires_at: String,
    /// Why the agent asks, shown to the human (cut to 500 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The envelope asked for, as the approval page and the poller see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MandateAsked {
    pub limits: MandateLimits,
    /// RFC 3339, UTC.
    pub expires_at: String,
    pub reason: Option<String>,
    /// The envelope in words, a line per limit.
    pub envelope: Vec<EnvelopeLine>,
}

/// The answer of a mandate request: nothing is granted until a human approves on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MandateRequested {
    #[serde(flatten)]
    pub approval: WebApproval,
    pub mandate: MandateAsked,
}

pub fn asked(app: &App, ask: &MandateAsk) -> MandateAsked {
    MandateAsked {
        limits: ask.limits.clone(),
        expires_at: format_instant(ask.valid_until),
        reason: ask.reason.clone(),
        envelope: envelope_lines(&ask.limits, &app.config.catalog),
    }
}

/// Stores the request as an approval (its id hashed) and answers where the human decides.
pub async fn request(app: &App, caller: &Caller<'_>, body: &MandateRequestBody, now: i64) -> Result<MandateRequested, ApiError> {
    let principal = caller.principal;
    if principal.kind != PrincipalKind::Agent {
        return Err(ApiError::forbidden("Only an agent key asks for a mandate: a human grants one directly with POST /billing/mandates."));
    }
    let valid_until = parse_instant(&body.expires_at)
        .ok_or_else(|| ApiError::field("expires_at", "must be a date (YYYY-MM-DD), a UTC time (YYYY-MM-DDTHH:MM:SSZ) or epoch seconds"))?;
    check_grant(&body.limits, valid_until, &app.config.catalog, now)?;
    let org = load_org(&app.store, &principal.org_id).await?;
    let ask = MandateAsk { limits: body.limits.clone(), valid_until, reason: clean_reason(body.reason.as_deref()) };
    let until = format_instant(valid_until);
    let message = format!(
        "Let {} act for {} without asking each time, within these limits, until {} {} UTC.",
        principal.principal_id,
        org.name,
        &until[..10],
        &until[11..16]
    );
    let (id, mut record) = ApprovalRecord::ask(principal, &org, "mandate", "", message, now);
    record.mandate = Some(ask.clone());
    let event = Event::MandateRequested { agent_key_id: principal.key_id.clone(), limits: ask.limits.clone(), expires_at: valid_until };
    app.store.put_approval(&record, &Activity::new(&org.org_id, now, Actor::of(principal), event, current_request_id())).await?;
    metrics::approval_asked();
    tracing::info!(org_id = %org.org_id, principal_id = %principal.principal_id, "mandate requested");
    Ok(MandateRequested { approval: WebApproval::of(caller.base_url, id, &record), mandate: asked(app, &ask) })
}

/// A human approves a pending mandate request (checked by the caller): grants the mandate as
/// asked, as that human, with the record of the decision. `None` when the request was decided
/// or lapsed first.
pub(crate) async fn approve(
    app: &App,
    human: &Principal,
    record: &ApprovalRecord,
    decided: Activity,
    now: i64,
) -> Result<Option<MandateView>, ApiError> {
    let (Some(ask), Some(agent_key_id)) = (&record.mandate, &record.key_id) else {
        return Err(ApiError::internal("A mandate approval without its envelope or agent key."));
    };
    let mandate = new_mandate(&record.org_id, agent_key_id, &ask.limits, ask.valid_until, human, now);
    let event = Event::MandateGranted {
        mandate_id: mandate.mandate_id.clone(),
        agent_key_id: agent_key_id.clone(),
        limits: mandate.limits.clone(),
        expires_at: mandate.valid_until,
    };
    let consent = Consent::WebApproval { approved_by: human.principal_id.clone(), approval_id: Some(record.id_hash.clone()) };
    let granted = Activity::new(&record.org_id, now, Actor::of(human), event, current_request_id()).under(Some(consent));
    let view = MandateView::of(&mandate, now);
    let result = serde_json::to_string(&view).map_err(|e| ApiError::internal(e.to_string()))?;
    let written =
        app.store.approve_mandate_request(&record.id_hash, &human.principal_id, &result, &mandate, &[decided, granted], now).await?;
    if written {
        tracing::info!(org_id = %record.org_id, mandate_id = %mandate.mandate_id, "mandate request approved");
    }
    Ok(written.then_some(view))
}
