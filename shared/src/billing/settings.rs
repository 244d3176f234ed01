//! `GET /billing/settings` (any key of the org) and `PATCH /billing/settings` (HUMAN or ADMIN):
//! the org's settings: the brake for its AGENT keys (`domain::brake`) and automatic top-up
//! (`domain::auto_top_up`).

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::domain::auto_top_up::AutoTopUp;
use crate::domain::brake::{AgentBrake, AgentBrakeChange};
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::ApiError;
use crate::store::OrgSettings;

/// The org's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    pub agent_brake: AgentBrake,
    /// Automatic top-up, or `null` when it is off.
    pub auto_top_up: Option<AutoTopUp>,
    /// Automatic top-ups attempted this calendar month (UTC), paid or refused.
    pub auto_top_ups_this_month: u32,
}

impl From<OrgSettings> for Settings {
    fn from(settings: OrgSettings) -> Self {
        Self {
            agent_brake: settings.agent_brake,
            auto_top_up: settings.auto_top_up,
            auto_top_ups_this_month: settings.auto_top_ups_this_month,
        }
    }
}

/// The body of `PATCH /billing/settings`: the settings given change, the others stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    #[serde(default)]
    pub agent_brake: Option<AgentBrakeChange>,
    /// The whole automatic top-up (it replaces the org's), or `null` to turn it off.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = true)]
    pub auto_top_up: Option<Option<AutoTopUp>>,
}

/// A field given, even as `null` (`Some(None)`), against one left out (`None`, by default).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

pub async fn get(app: &App, principal: &Principal, now: i64) -> Result<Settings, ApiError> {
    Ok(app.store.get_settings(&principal.org_id, now).await?.into())
}

/// Checks every value before writing any, so a refused change leaves every setting as it was.
pub async fn change(app: &App, principal: &Principal, body: &SettingsChange, now: i64) -> Result<Settings, ApiError> {
    if principal.kind == PrincipalKind::Agent {
        return Err(ApiError::forbidden("An agent key cannot change the org's settings: a human of the org does, with their own key."));
    }
    let brake = body.agent_brake.unwrap_or_default();
    brake.validate()?;
    if let Some(Some(auto_top_up)) = &body.auto_top_up {
        auto_top_up.validate(app.config.catalog.credits.max_bundles)?;
        let key = app.store.get_api_key(&auto_top_up.agent_key_id).await?;
        let of_the_org =
            key.is_some_and(|key| key.org_id == principal.org_id && key.kind == PrincipalKind::Agent && key.revoked_at.is_none());
        if !of_the_org {
            return Err(ApiError::field(
                "auto_top_up.agent_key_id",
                "must be the key id of one of the org's AGENT keys that is not revoked",
            ));
        }
    }
    let auto_top_up = body.auto_top_up.as_ref().map(Option::as_ref);
    Ok(app.store.change_settings(&principal.org_id, &brake, auto_top_up, now).await?.into())
}
