//! An org's settings (`ORG#<org_id>` / `SETTINGS`): each attribute is one setting, absent until
//! set, so a change writes only the settings it names and never loses a concurrent one.

use aws_sdk_dynamodb::types::ReturnValue;
use serde::Deserialize;

use super::expr::{Expr, with_expr};
use super::{Key, Store, StoreError, classify, decode};
use crate::domain::brake::{AgentBrake, AgentBrakeChange};

fn settings_key(org_id: &str) -> Key {
    (format!("ORG#{org_id}"), "SETTINGS".to_string())
}

/// The settings as stored: what an org never set is its default.
#[derive(Debug, Default, Deserialize)]
struct StoredSettings {
    brake_max_refusals_per_minute: Option<u32>,
    brake_pause_minutes: Option<u32>,
}

impl StoredSettings {
    fn agent_brake(&self) -> AgentBrake {
        let default = AgentBrake::default();
        AgentBrake {
            max_refusals_per_minute: self.brake_max_refusals_per_minute.unwrap_or(default.max_refusals_per_minute),
            pause_minutes: self.brake_pause_minutes.unwrap_or(default.pause_minutes),
        }
    }
}

impl Store {
    /// The org's brake for its AGENT keys.
    pub async fn get_agent_brake(&self, org_id: &str) -> Result<AgentBrake, StoreError> {
        let stored: Option<StoredSettings> = self.get("get_agent_brake", settings_key(org_id)).await?;
        Ok(stored.unwrap_or_default().agent_brake())
    }

    /// Sets the brake's settings `change` names (checked already); the brake after it.
    pub async fn change_agent_brake(&self, org_id: &str, change: &AgentBrakeChange) -> Result<AgentBrake, StoreError> {
        const OPERATION: &str = "change_agent_brake";
        let mut e = Expr::new();
        let named = [("brake_max_refusals_per_minute", change.max_refusals_per_minute), ("brake_pause_minutes", change.pause_minutes)];
        for (name, value) in named.into_iter().filter_map(|(name, value)| Some((name, value?))) {
            let (path, value) = (e.path(&[name]), e.num(value));
            e.set(format!("{path} = {value}"));
        }
        if e.update_expression().is_none() {
            return self.get_agent_brake(org_id).await;
        }
        let out = with_expr!(self.update_request(settings_key(org_id)), e, update)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|err| classify(OPERATION, err))?;
        let stored: StoredSettings = decode(OPERATION, out.attributes.unwrap_or_default())?;
        Ok(stored.agent_brake())
    }
}
