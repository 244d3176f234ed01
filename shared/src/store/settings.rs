//! An org's settings (`ORG#<org_id>` / `SETTINGS`): each attribute is one setting, absent until
//! set, so a change writes only the settings it names and never loses a concurrent one. The
//! item also counts the org's automatic top-ups per month (`auto_top_ups`), and each top-up's
//! claim (`ORG#<org_id>` / `AUTO_TOP_UP#<spend's activity id>`) makes it happen once per crossing.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use serde::Deserialize;

use super::expr::{Expr, with_expr};
use super::{Key, PK, SK, Store, StoreError, TTL, built, classify, decode};
use crate::domain::auto_top_up::{AutoTopUp, month_of};
use crate::domain::brake::{AgentBrake, AgentBrakeChange};

/// How long a top-up's claim is kept: longer than the stream keeps the spend that caused it.
const CLAIM_TTL_SECS: i64 = 7 * 86_400;

fn settings_key(org_id: &str) -> Key {
    (format!("ORG#{org_id}"), "SETTINGS".to_string())
}

fn claim_key(org_id: &str, trigger: &str) -> Key {
    (format!("ORG#{org_id}"), format!("AUTO_TOP_UP#{trigger}"))
}

/// The settings as stored: what an org never set is its default.
#[derive(Debug, Default, Deserialize)]
struct StoredSettings {
    brake_max_refusals_per_minute: Option<u32>,
    brake_pause_minutes: Option<u32>,
    #[serde(default)]
    auto_top_up: Option<AutoTopUp>,
    /// Automatic top-ups attempted, per calendar month (`2026-12`).
    #[serde(default)]
    auto_top_ups: HashMap<String, u32>,
}

impl StoredSettings {
    fn agent_brake(&self) -> AgentBrake {
        let default = AgentBrake::default();
        AgentBrake {
            max_refusals_per_minute: self.brake_max_refusals_per_minute.unwrap_or(default.max_refusals_per_minute),
            pause_minutes: self.brake_pause_minutes.unwrap_or(default.pause_minutes),
        }
    }

    fn settings(self, now: i64) -> OrgSettings {
        let auto_top_ups_this_month = self.auto_top_ups.get(&month_of(now)).copied().unwrap_or(0);
        OrgSettings { agent_brake: self.agent_brake(), auto_top_up: self.auto_top_up, auto_top_ups_this_month }
    }
}

/// An org's settings, as of `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSettings {
    pub agent_brake: AgentBrake,
    pub auto_top_up: Option<AutoTopUp>,
    pub auto_top_ups_this_month: u32,
}

/// What claiming an automatic top-up found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopUpClaim {
    /// Counted in the month: this crossing's top-up is to run.
    Claimed,
    /// This crossing's top-up was claimed before (a delivery again): run it again, it replays.
    AlreadyClaimed,
    /// The month's top-ups are used up, or automatic top-up was turned off meanwhile.
    NotAllowed,
}

impl Store {
    /// The org's brake for its AGENT keys.
    pub async fn get_agent_brake(&self, org_id: &str) -> Result<AgentBrake, StoreError> {
        let stored: Option<StoredSettings> = self.get("get_agent_brake", settings_key(org_id)).await?;
        Ok(stored.unwrap_or_default().agent_brake())
    }

    /// Every setting of the org, as of `now`.
    pub async fn get_settings(&self, org_id: &str, now: i64) -> Result<OrgSettings, StoreError> {
        let stored: Option<StoredSettings> = self.get("get_settings", settings_key(org_id)).await?;
        Ok(stored.unwrap_or_default().settings(now))
    }

    /// Sets the brake's settings `brake` names and, when `auto_top_up` is given, the automatic
    /// top-up (`Some(None)`: turned off), all checked already; the settings after it.
    pub async fn change_settings(
        &self,
        org_id: &str,
        brake: &AgentBrakeChange,
        auto_top_up: Option<Option<&AutoTopUp>>,
        now: i64,
    ) -> Result<OrgSettings, StoreError> {
        const OPERATION: &str = "change_settings";
        let mut e = Expr::new();
        let named = [("brake_max_refusals_per_minute", brake.max_refusals_per_minute), ("brake_pause_minutes", brake.pause_minutes)];
        for (name, value) in named.into_iter().filter_map(|(name, value)| Some((name, value?))) {
            let (path, value) = (e.path(&[name]), e.num(value));
            e.set(format!("{path} = {value}"));
        }
        match auto_top_up {
            None => {}
            Some(None) => {
                let path = e.path(&["auto_top_up"]);
                e.remove(path);
            }
            Some(Some(setting)) => {
                let item = serde_dynamo::to_attribute_value(setting)
                    .map_err(|err| StoreError::Corrupt { operation: OPERATION, problem: err.to_string() })?;
                let (path, value) = (e.path(&["auto_top_up"]), e.value(item));
                e.set(format!("{path} = {value}"));
                // The month counters' map, so that a claim can add to one of them.
                let (counts, empty) = (e.path(&["auto_top_ups"]), e.value(AttributeValue::M(HashMap::new())));
                e.set(format!("{counts} = if_not_exists({counts}, {empty})"));
            }
        }
        if e.update_expression().is_none() {
            return self.get_settings(org_id, now).await;
        }
        let out = with_expr!(self.update_request(settings_key(org_id)), e, update)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|err| classify(OPERATION, err))?;
        let stored: StoredSettings = decode(OPERATION, out.attributes.unwrap_or_default())?;
        Ok(stored.settings(now))
    }

    /// Claims the automatic top-up that the spend recorded as activity `trigger` caused: counts
    /// it in `now`'s month if the org still has automatic top-up and fewer than `max_per_month`
    /// this month, in one transaction with the claim (so a delivery again counts nothing).
    pub async fn claim_auto_top_up(&self, org_id: &str, trigger: &str, max_per_month: u32, now: i64) -> Result<TopUpClaim, StoreError> {
        const OPERATION: &str = "claim_auto_top_up";
        let mut e = Expr::new();
        let setting = e.path(&["auto_top_up"]);
        let count = e.path(&["auto_top_ups", &month_of(now)]);
        let (zero, one, max) = (e.num(0), e.num(1), e.num(max_per_month));
        e.set(format!("{count} = if_not_exists({count}, {zero}) + {one}"));
        e.condition(format!("attribute_exists({setting}) AND (attribute_not_exists({count}) OR {count} < {max})"));
        let count_update = built(OPERATION, with_expr!(self.update_builder(settings_key(org_id)), e, update).build())?;
        let (pk, sk) = claim_key(org_id, trigger);
        let claim = HashMap::from([
            (PK.to_string(), AttributeValue::S(pk)),
            (SK.to_string(), AttributeValue::S(sk)),
            ("claimed_at".to_string(), AttributeValue::N(now.to_string())),
            (TTL.to_string(), AttributeValue::N((now + CLAIM_TTL_SECS).to_string())),
        ]);
        let claim_put = Put::builder().table_name(&self.table).set_item(Some(claim)).condition_expression("attribute_not_exists(PK)");
        let items = vec![
            TransactWriteItem::builder().update(count_update).build(),
            TransactWriteItem::builder().put(built(OPERATION, claim_put.build())?).build(),
        ];
        match self.transact(OPERATION, items).await? {
            Ok(()) => Ok(TopUpClaim::Claimed),
            Err(failed) if failed.get(1).is_some_and(Option::is_some) => Ok(TopUpClaim::AlreadyClaimed),
            Err(_) => Ok(TopUpClaim::NotAllowed),
        }
    }
}
