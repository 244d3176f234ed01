//! `GET /billing/settings` (any key of the org) and `PATCH /billing/settings` (HUMAN or ADMIN):
//! the org's settings, today the brake for its AGENT keys (`domain::brake`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::domain::brake::{AgentBrake, AgentBrakeChange};
use crate::domain::org::{Principal, PrincipalKind};
use crate::error::ApiError;

/// The org's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    pub agent_brake: AgentBrake,
}

/// The body of `PATCH /billing/settings`: the settings given change, the others stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    #[serde(default)]
    pub agent_brake: Option<AgentBrakeChange>,
}

pub async fn get(app: &App, principal: &Principal) -> Result<Settings, ApiError> {
    Ok(Settings { agent_brake: app.store.get_agent_brake(&principal.org_id).await? })
}

/// Checks every value before writing any, so a refused change leaves every setting as it was.
pub async fn change(app: &App, principal: &Principal, body: &SettingsChange) -> Result<Settings, ApiError> {
    if principal.kind == PrincipalKind::Agent {
        return Err(ApiError::forbidden("An agent key cannot change the org's settings: a human of the org does, with their own key."));
    }
    let brake = body.agent_brake.unwrap_or_default();
    brake.validate()?;
    Ok(Settings { agent_brake: app.store.change_agent_brake(&principal.org_id, &brake).await? })
}
