//! Demo data for the local run: one org with a HUMAN, an AGENT and an ADMIN key.

use billing_shared::domain::api_key as auth;
use billing_shared::domain::org::Org;
use billing_shared::domain::principal::PrincipalKind;
use billing_shared::store::Store;
use billing_shared::{ApiError, now};

pub const DEMO_ORG: &str = "demo";

pub struct DemoKeys {
    pub org_id: String,
    pub human: String,
    pub agent: String,
    pub admin: String,
}

/// Creates the demo org (if it is not there yet) and issues fresh keys, printed once by the caller.
pub async fn seed_demo(store: &Store) -> Result<DemoKeys, ApiError> {
    match store.create_org(&Org::new(DEMO_ORG, "Demo Org", now())).await {
        Err(err) if !err.is_conflict() => return Err(err.into()),
        _ => {}
    }
    let issue = async |principal: &str, kind| -> Result<String, ApiError> {
        let key = auth::issue(DEMO_ORG, principal, kind, now())?;
        store.put_api_key(&key.record, &auth::key_activity(&key.record, false, now())).await?;
        Ok(key.token)
    };
    let human = issue("demo-human", PrincipalKind::Human).await?;
    let agent = issue("demo-agent", PrincipalKind::Agent).await?;
    let admin = issue("demo-admin", PrincipalKind::Admin).await?;
    Ok(DemoKeys { org_id: DEMO_ORG.to_string(), human, agent, admin })
}
