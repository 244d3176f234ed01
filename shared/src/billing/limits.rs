//! `GET /billing/limits[/{resource}]`: caps vs usage, "can I create one more?", in one
//! DynamoDB read; and the admin's per-org cap overrides.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::App;
use crate::billing::load_org;
use crate::domain::catalog::Resource;
use crate::domain::entitlements::{LimitStatus, effective_plan, limit};
use crate::domain::org::Org;
use crate::domain::principal::Principal;
use crate::error::ApiError;
use crate::retry::{Policy, retry};

/// A resource named in a path; an unknown one is 404 with the list of those that exist.
pub fn parse_resource(name: &str) -> Result<Resource, ApiError> {
    Resource::parse(name).ok_or_else(|| {
        let valid: Vec<&str> = Resource::ALL.iter().map(|r| r.as_str()).collect();
        ApiError::not_found(format!("No gated resource `{name}`; the resources are {}.", valid.join(", ")))
            .with_details(json!({ "resource": name, "valid": valid }))
    })
}

/// Every resource's limit under the effective plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LimitsView {
    /// The effective plan (the one whose caps apply now).
    pub plan: String,
    pub limits: Vec<LimitStatus>,
}

pub fn limits_view(app: &App, org: &Org, now: i64) -> LimitsView {
    let plan = effective_plan(org, &app.config.catalog, now, app.config.past_due_grace_secs);
    LimitsView {
        plan: plan.id.clone(),
        limits: Resource::ALL.iter().map(|r| LimitStatus::new(org, &limit(org, plan, *r, now), now)).collect(),
    }
}

pub fn limit_status(app: &App, org: &Org, resource: Resource, now: i64) -> LimitStatus {
    let plan = effective_plan(org, &app.config.catalog, now, app.config.past_due_grace_secs);
    LimitStatus::new(org, &limit(org, plan, resource, now), now)
}

/// `GET /billing/limits`.
pub async fn limits(app: &App, principal: &Principal, now: i64) -> Result<LimitsView, ApiError> {
    let org = load_org(&app.store, &principal.org_id).await?;
    Ok(limits_view(app, &org, now))
}

/// `GET /billing/limits/{resource}`: the resource is checked before anything is read.
pub async fn resource_limit(app: &App, principal: &Principal, resource: &str, now: i64) -> Result<LimitStatus, ApiError> {
    let resource = parse_resource(resource)?;
    let org = load_org(&app.store, &principal.org_id).await?;
    Ok(limit_status(app, &org, resource, now))
}

/// A cap override as the admin gives it: a number, `unlimited`, or `none` (remove the
/// override: the plan's cap applies again).
pub fn parse_override(text: &str) -> Result<Option<Option<u64>>, String> {
    match text {
        "none" => Ok(None),
        "unlimited" => Ok(Some(None)),
        number => {
            number.parse::<u64>().map(|cap| Some(Some(cap))).map_err(|_| format!("`{text}`: give a cap (0 or more), `unlimited` or `none`"))
        }
    }
}

/// Sets (`Some`) or removes (`None`) an org's override of one resource's cap; the org's
/// materialised caps follow in the same write, so reservations honour it at once.
pub async fn set_cap_override(
    app: &App,
    org_id: &str,
    resource: Resource,
    cap: Option<Option<u64>>,
    now: i64,
) -> Result<LimitStatus, ApiError> {
    retry(Policy::WRITE_RACE, "set_cap_override", |_| async {
        let mut org = app.store.get_org(org_id).await?.ok_or_else(|| ApiError::not_found(format!("no org `{org_id}`")))?;
        match cap {
            Some(cap) => org.cap_overrides.insert(resource, cap),
            None => org.cap_overrides.remove(&resource),
        };
        app.store.save_org(&mut org).await?;
        Ok(limit_status(app, &org, resource, now))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_resources_are_404_listing_the_valid_ones() {
        assert_eq!(parse_resource("agents").unwrap(), Resource::Agents);
        let err = parse_resource("unicorns").unwrap_err();
        assert_eq!(err.status(), 404);
        let details = err.details.unwrap();
        assert_eq!(details["valid"].as_array().unwrap().len(), Resource::ALL.len());
        assert!(err.message.contains("api_calls"));
    }

    #[test]
    fn overrides_parse_as_cap_unlimited_or_none() {
        assert_eq!(parse_override("25"), Ok(Some(Some(25))));
        assert_eq!(parse_override("unlimited"), Ok(Some(None)));
        assert_eq!(parse_override("none"), Ok(None));
        assert!(parse_override("-1").is_err() && parse_override("lots").is_err());
    }
}
