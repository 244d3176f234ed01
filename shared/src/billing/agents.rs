//! `GET /billing/agents` (HUMAN or ADMIN): the org's AGENT keys, each with its active mandate,
//! what it drew from it today and this month, and its pause. Two Queries: the keys (GSI3) and
//! the mandates.

use serde::Serialize;
use utoipa::ToSchema;

use crate::App;
use crate::billing::mandates::MandateView;
use crate::domain::calendar::format_instant;
use crate::domain::mandate::MandateStatus;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::ApiError;

/// One AGENT key of the org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgentView {
    /// The key's id, as `billing-admin issue-key` printed it.
    pub key_id: String,
    /// The key's principal (the agent's name).
    pub name: String,
    /// Its active mandate, if it holds one.
    pub mandate: Option<MandateView>,
    /// Credits it spent today under its mandate's daily limit.
    pub spent_today: u64,
    /// What its actions charged this month under its mandate (minor units).
    pub charged_this_month: u64,
    /// Until when the brake pauses it (RFC 3339), or `null`.
    pub paused_until: Option<String>,
}

/// `GET /billing/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgentList {
    pub data: Vec<AgentView>,
}

/// The org's live AGENT keys, by key id.
pub async fn list(app: &App, principal: &Principal, now: i64) -> Result<AgentList, ApiError> {
    if principal.kind == PrincipalKind::Agent {
        return Err(ApiError::forbidden("An agent key cannot list the org's agents: a human of the org does, with their own key."));
    }
    let (keys, mandates) =
        tokio::try_join!(app.store.keys_of_kind(&principal.org_id, PrincipalKind::Agent), app.store.mandates(&principal.org_id))?;
    let mut data: Vec<AgentView> = keys
        .into_iter()
        .filter(|key| key.revoked_at.is_none())
        .map(|key| {
            let mandate = mandates.iter().find(|m| m.agent_key_id == key.key_id && m.status(now) == MandateStatus::Active);
            let used = mandate.map(|m| m.used(now));
            AgentView {
                name: key.principal_id.clone(),
                mandate: mandate.map(|m| MandateView::of(m, now)),
                spent_today: used.as_ref().map_or(0, |u| u.credits_spent_today),
                charged_this_month: used.as_ref().map_or(0, |u| u.charged_this_month),
                paused_until: key.paused_until.filter(|until| *until > now).map(format_instant),
                key_id: key.key_id,
            }
        })
        .collect();
    data.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    Ok(AgentList { data })
}
