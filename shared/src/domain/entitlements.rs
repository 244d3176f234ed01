//! What an org may use right now: its effective plan, the cap of every gated resource (plan
//! caps, per-unit quantity, admin overrides), what it holds of each, and the next step when a
//! cap is reached.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::domain::calendar;
use crate::domain::catalog::{Catalog, Interval, Plan, Resource};
use crate::domain::org::{Org, SubscriptionStatus};

/// The plan whose caps apply: the subscribed plan while it is paid for (or within the past-due
/// grace period), free otherwise. Design partners get the top plan, whatever Stripe says.
pub fn effective_plan<'c>(org: &Org, catalog: &'c Catalog, now: i64, past_due_grace_secs: i64) -> &'c Plan {
    if org.design_partner {
        return catalog.top();
    }
    let paid_up = match org.status {
        SubscriptionStatus::Active | SubscriptionStatus::Trialing => true,
        SubscriptionStatus::PastDue => org.past_due_since.is_none_or(|since| now < since + past_due_grace_secs),
        _ => false,
    };
    match catalog.plan(&org.plan) {
        Some(plan) if paid_up || plan.is_free() => plan,
        _ => catalog.free(),
    }
}

/// The org's cap of `resource` under `plan`: an admin override if it has one, else the plan's
/// (per-unit plans: the quantity bought). `None` is unlimited.
pub fn cap_of(org: &Org, plan: &Plan, resource: Resource) -> Option<u64> {
    match org.cap_overrides.get(&resource) {
        Some(cap) => *cap,
        None => plan.cap(resource, org.quantity),
    }
}

/// Every resource's cap at `now`.
pub fn effective_caps(org: &Org, catalog: &Catalog, now: i64, grace_secs: i64) -> BTreeMap<Resource, Option<u64>> {
    let plan = effective_plan(org, catalog, now, grace_secs);
    Resource::ALL.into_iter().map(|r| (r, cap_of(org, plan, r))).collect()
}

/// The only moment an org's caps change without a write to the org: the end of the past-due
/// grace period.
pub fn grace_deadline(org: &Org, grace_secs: i64) -> Option<i64> {
    match (org.status, org.past_due_since) {
        (SubscriptionStatus::PastDue, Some(since)) => Some(since.saturating_add(grace_secs)),
        _ => None,
    }
}

/// What caps depend on besides the org: the catalog and the grace period.
#[derive(Debug, Clone)]
pub struct CapRules {
    pub catalog: Catalog,
    pub grace_secs: i64,
}

impl CapRules {
    /// Changes whenever the catalog or the grace period does, so caps materialised under other
    /// rules (an older deployment) are recognised as stale.
    pub fn fingerprint(&self) -> String {
        let catalog = serde_json::to_string(&self.catalog).unwrap_or_default();
        let digest = Sha256::digest(format!("{catalog}|{}", self.grace_secs).as_bytes());
        hex::encode(&digest[..8])
    }
}

/// An org's caps as a step function of time: `caps` before `until`, `then` from `until` on.
/// Independent of `now`, so the store can materialise it on the org item at every write and a
/// reservation can be checked against it in one conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapSchedule {
    pub caps: BTreeMap<Resource, Option<u64>>,
    /// `i64::MAX` when nothing changes with time.
    pub until: i64,
    pub then: BTreeMap<Resource, Option<u64>>,
}

impl CapSchedule {
    pub fn of(org: &Org, rules: &CapRules) -> Self {
        let caps_at = |t| effective_caps(org, &rules.catalog, t, rules.grace_secs);
        match grace_deadline(org, rules.grace_secs) {
            Some(deadline) => Self { caps: caps_at(deadline.saturating_sub(1)), until: deadline, then: caps_at(deadline) },
            None => {
                let caps = caps_at(0);
                Self { then: caps.clone(), caps, until: i64::MAX }
            }
        }
    }

    pub fn at(&self, now: i64) -> &BTreeMap<Resource, Option<u64>> {
        if now < self.until { &self.caps } else { &self.then }
    }
}

/// When the `api_calls` period containing `now` ends: the org's billing period (months or
/// years anchored at Stripe's current period end, carried on while a renewal's webhook is
/// late) when it has a subscription, else the UTC calendar month.
pub fn usage_period_end(org: &Org, now: i64) -> i64 {
    match (org.interval, org.current_period_end) {
        (Some(interval), Some(end)) => {
            let months = match interval {
                Interval::Month => 1,
                Interval::Year => 12,
            };
            calendar::period_end_after(end, months, now)
        }
        _ => calendar::next_month_start(now),
    }
}

/// Whether the stored `api_calls` count belongs to a period that has ended (or to none).
pub fn usage_period_over(org: &Org, now: i64) -> bool {
    org.usage_period_end.is_none_or(|end| end <= now)
}

/// What the org holds of `resource` at `now`: `api_calls` of an ended period count as 0.
pub fn active(org: &Org, resource: Resource, now: i64) -> u64 {
    if resource == Resource::ApiCalls && usage_period_over(org, now) { 0 } else { org.usage_of(resource) }
}

/// `active` vs `cap` for one resource; `cap: null` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Limit {
    pub resource: Resource,
    pub active: u64,
    pub cap: Option<u64>,
}

impl Limit {
    pub fn can_add(&self, count: u64) -> bool {
        self.cap.is_none_or(|cap| self.active.saturating_add(count) <= cap)
    }

    pub fn remaining(&self) -> Option<u64> {
        self.cap.map(|cap| cap.saturating_sub(self.active))
    }

    pub fn over_cap(&self) -> bool {
        self.cap.is_some_and(|cap| self.active > cap)
    }
}

pub fn limit(org: &Org, plan: &Plan, resource: Resource, now: i64) -> Limit {
    Limit { resource, active: active(org, resource, now), cap: cap_of(org, plan, resource) }
}

pub fn limits(org: &Org, plan: &Plan, now: i64) -> Vec<Limit> {
    Resource::ALL.into_iter().map(|resource| limit(org, plan, resource, now)).collect()
}

/// "Can I create one more?": the body of `GET /billing/limits[/{resource}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LimitStatus {
    pub resource: Resource,
    pub active: u64,
    pub cap: Option<u64>,
    /// `cap - active`, 0 when over the cap; `null` when unlimited.
    pub remaining: Option<u64>,
    pub can_create: bool,
    /// More held than the cap allows (e.g. after a downgrade): nothing is deleted, but nothing
    /// more can be reserved until usage or the plan fits.
    pub over_cap: bool,
    /// `api_calls` only: when the count starts again from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<i64>,
}

impl LimitStatus {
    pub fn new(org: &Org, limit: &Limit, now: i64) -> Self {
        let resets_at = (limit.resource == Resource::ApiCalls).then(|| match org.usage_period_end {
            Some(end) if end > now => end,
            _ => usage_period_end(org, now),
        });
        Self {
            resource: limit.resource,
            active: limit.active,
            cap: limit.cap,
            remaining: limit.remaining(),
            can_create: limit.can_add(1),
            over_cap: limit.over_cap(),
            resets_at,
        }
    }
}

/// The plan an org could move to for `needed` of `resource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UpgradeOption {
    pub api: &'static str,
    /// The MCP tool that makes the same call.
    #[serde(rename = "mcpTool")]
    pub mcp_tool: &'static str,
    pub plan: String,
    pub cap: Option<u64>,
    /// Per-unit plans (priced by `resource`): the quantity to buy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
}

/// A call a refusal names as the next step: its route and its MCP tool. The layers that serve
/// them name them (`billing::usage::NEXT_CALLS`); the rules only say which comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub api: &'static str,
    pub mcp_tool: &'static str,
}

/// The two next steps of a 402 `plan_limit_reached`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextCalls {
    pub upgrade: Call,
    pub increase: Call,
}

/// The cheapest paid plan (by monthly price, annual / 12 where it has no monthly one) whose cap
/// of `resource` fits `needed`; `None` when none does, or when an admin override fixes the
/// org's cap whatever the plan.
pub fn cheapest_upgrade(org: &Org, catalog: &Catalog, resource: Resource, needed: u64, upgrade: Call) -> Option<UpgradeOption> {
    if org.cap_overrides.contains_key(&resource) {
        return None;
    }
    catalog
        .plans
        .iter()
        .filter(|plan| !plan.is_free())
        .filter_map(|plan| {
            let (quantity, cap) = match &plan.per_unit {
                Some(per_unit) if per_unit.resource == resource => {
                    let quantity = u32::try_from(needed).ok().filter(|q| *q <= per_unit.max_quantity)?.max(per_unit.min_quantity);
                    (Some(quantity), Some(u64::from(quantity)))
                }
                Some(per_unit) => (None, plan.cap(resource, per_unit.min_quantity)),
                None => (None, plan.cap(resource, 1)),
            };
            if cap.is_some_and(|cap| cap < needed) {
                return None;
            }
            let units = u64::from(quantity.or(plan.per_unit.as_ref().map(|p| p.min_quantity)).unwrap_or(1));
            let monthly = plan.prices.month.as_ref().map(|p| p.unit_amount).or(plan.prices.year.as_ref().map(|p| p.unit_amount / 12))?;
            Some((
                monthly.saturating_mul(units),
                UpgradeOption { api: upgrade.api, mcp_tool: upgrade.mcp_tool, plan: plan.id.clone(), cap, quantity },
            ))
        })
        .min_by_key(|(price, _)| *price)
        .map(|(_, option)| option)
}

/// Where to ask for more than any plan gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IncreaseOption {
    pub api: &'static str,
    /// The MCP tool that makes the same call.
    #[serde(rename = "mcpTool")]
    pub mcp_tool: &'static str,
    pub kind: Resource,
}

/// The `details` of a 402 `plan_limit_reached`: where the org stands and its next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlanLimitReached {
    /// The effective plan (the one whose caps apply now).
    pub plan: String,
    pub resource: Resource,
    pub active: u64,
    pub cap: Option<u64>,
    pub requested: u64,
    pub over_cap: bool,
    pub upgrade: Option<UpgradeOption>,
    pub increase: IncreaseOption,
}

impl PlanLimitReached {
    pub fn new(org: &Org, catalog: &Catalog, plan: &Plan, limit: &Limit, requested: u64, calls: NextCalls) -> Self {
        Self {
            plan: plan.id.clone(),
            resource: limit.resource,
            active: limit.active,
            cap: limit.cap,
            requested,
            over_cap: limit.over_cap(),
            upgrade: cheapest_upgrade(org, catalog, limit.resource, limit.active.saturating_add(requested), calls.upgrade),
            increase: IncreaseOption { api: calls.increase.api, mcp_tool: calls.increase.mcp_tool, kind: limit.resource },
        }
    }

    /// The envelope's `message`: the situation and the next step, for a person or an agent.
    pub fn message(&self, plan_name: &str) -> String {
        let cap = self.cap.map_or("unlimited".to_string(), |c| c.to_string());
        let resource = self.resource.as_str();
        let situation =
            format!("The {plan_name} plan allows {cap} {resource}; {} are in use and {} more were requested.", self.active, self.requested);
        let increase = self.increase.api;
        match &self.upgrade {
            Some(upgrade) => format!(
                "{situation} Upgrade to `{}` ({} {resource}) with {}, or ask for more with {increase}.",
                upgrade.plan,
                upgrade.cap.map_or("unlimited".to_string(), |c| c.to_string()),
                upgrade.api
            ),
            None => format!("{situation} No plan change raises this cap: ask for more with {increase}."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: i64 = 7 * 86_400;
    const CALLS: NextCalls =
        NextCalls { upgrade: Call { api: "POST /upgrade", mcp_tool: "upgrade" }, increase: Call { api: "POST /more", mcp_tool: "more" } };

    fn pro_org(status: SubscriptionStatus) -> Org {
        let mut org = Org::new("acme", "Acme", 0);
        org.plan = "pro".into();
        org.status = status;
        org
    }

    #[test]
    fn paid_statuses_get_the_plan_and_others_fall_back_to_free() {
        let catalog = Catalog::built_in().unwrap();
        for (status, expected) in [
            (SubscriptionStatus::Active, "pro"),
            (SubscriptionStatus::Trialing, "pro"),
            (SubscriptionStatus::Incomplete, "free"),
            (SubscriptionStatus::Canceled, "free"),
            (SubscriptionStatus::Unpaid, "free"),
            (SubscriptionStatus::Paused, "free"),
        ] {
            assert_eq!(effective_plan(&pro_org(status), &catalog, 100, GRACE).id, expected, "{status:?}");
        }
    }

    #[test]
    fn past_due_keeps_paid_caps_only_during_grace() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = pro_org(SubscriptionStatus::PastDue);
        org.past_due_since = Some(1_000);
        assert_eq!(effective_plan(&org, &catalog, 1_000 + GRACE - 1, GRACE).id, "pro");
        assert_eq!(effective_plan(&org, &catalog, 1_000 + GRACE, GRACE).id, "free");
    }

    #[test]
    fn design_partners_get_the_top_plan_and_unknown_plans_are_free() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = pro_org(SubscriptionStatus::None);
        org.plan = "retired".into();
        assert_eq!(effective_plan(&org, &catalog, 0, GRACE).id, "free");
        org.design_partner = true;
        assert_eq!(effective_plan(&org, &catalog, 0, GRACE).id, "scale");
        org.plan = "free".into();
        assert_eq!(effective_plan(&org, &catalog, 0, GRACE).id, "scale", "without any subscription");
    }

    #[test]
    fn limits_report_usage_against_caps() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = Org::new("acme", "Acme", 0);
        org.usage.insert(Resource::Agents, 1);
        let limits = limits(&org, catalog.free(), 0);
        let agents = limits.iter().find(|l| l.resource == Resource::Agents).unwrap();
        assert_eq!((agents.active, agents.cap), (1, Some(1)));
        assert!(!agents.can_add(1));
        assert!(agents.can_add(0));
        assert_eq!(limits.len(), Resource::ALL.len());
        let unlimited = Limit { resource: Resource::Rows, active: u64::MAX, cap: None };
        assert!(unlimited.can_add(1));
    }

    fn rules() -> CapRules {
        CapRules { catalog: Catalog::built_in().unwrap(), grace_secs: GRACE }
    }

    #[test]
    fn the_materialised_schedule_gives_the_effective_caps_at_every_time() {
        let rules = rules();
        let mut orgs = Vec::new();
        for status in [SubscriptionStatus::Active, SubscriptionStatus::PastDue, SubscriptionStatus::Canceled, SubscriptionStatus::None] {
            for (plan, quantity) in [("free", 1), ("pro", 1), ("scale", 4)] {
                for design_partner in [false, true] {
                    for since in [None, Some(1_000)] {
                        let mut org = pro_org(status);
                        (org.plan, org.quantity, org.design_partner, org.past_due_since) = (plan.into(), quantity, design_partner, since);
                        orgs.push(org.clone());
                        org.cap_overrides.insert(Resource::Agents, Some(42));
                        org.cap_overrides.insert(Resource::Rows, None);
                        orgs.push(org);
                    }
                }
            }
        }
        for org in &orgs {
            let schedule = CapSchedule::of(org, &rules);
            for now in [0, 999, 1_000, 1_000 + GRACE - 1, 1_000 + GRACE, 1_000 + GRACE + 1, i64::MAX - 1] {
                assert_eq!(*schedule.at(now), effective_caps(org, &rules.catalog, now, GRACE), "{org:?} at {now}");
            }
        }
        assert_ne!(rules.fingerprint(), CapRules { grace_secs: 1, ..rules.clone() }.fingerprint());
    }

    #[test]
    fn overrides_replace_the_plan_cap_whatever_the_plan() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = pro_org(SubscriptionStatus::Active);
        org.cap_overrides.insert(Resource::Agents, Some(3));
        org.cap_overrides.insert(Resource::Rows, None);
        let plan = effective_plan(&org, &catalog, 0, GRACE);
        assert_eq!((cap_of(&org, plan, Resource::Agents), cap_of(&org, plan, Resource::Rows)), (Some(3), None));
        assert_eq!(cap_of(&org, plan, Resource::Members), Some(20));
        assert_eq!(cheapest_upgrade(&org, &catalog, Resource::Agents, 4, CALLS.upgrade), None, "an override is not moved by a plan");
    }

    #[test]
    fn the_cheapest_fitting_paid_plan_is_offered() {
        let catalog = Catalog::built_in().unwrap();
        let org = Org::new("acme", "Acme", 0);
        let upgrade =
            |resource, needed| cheapest_upgrade(&org, &catalog, resource, needed, CALLS.upgrade).map(|u| (u.plan, u.cap, u.quantity));
        assert_eq!(upgrade(Resource::Agents, 2), Some(("pro".into(), Some(10), None)));
        assert_eq!(upgrade(Resource::Agents, 11), Some(("scale".into(), None, None)));
        assert_eq!(upgrade(Resource::Servers, 3), Some(("pro".into(), Some(3), None)), "pro (19) is cheaper than scale x3 (147)");
        assert_eq!(upgrade(Resource::Servers, 7), Some(("scale".into(), Some(7), Some(7))));
        assert_eq!(upgrade(Resource::Servers, 101), None, "beyond the per-unit maximum");
        assert_eq!(upgrade(Resource::Workspaces, 101), None);
    }

    #[test]
    fn api_calls_count_per_billing_period_or_calendar_month() {
        use crate::domain::calendar::days_from_civil;
        let day = 86_400;
        let now = days_from_civil(2025, 5, 20) * day;
        let mut org = Org::new("acme", "Acme", now);
        assert_eq!(org.usage_period_end, Some(days_from_civil(2025, 6, 1) * day), "free: the calendar month");
        assert_eq!(usage_period_end(&org, now), days_from_civil(2025, 6, 1) * day);
        org.interval = Some(Interval::Month);
        org.current_period_end = Some(days_from_civil(2025, 6, 3) * day);
        assert_eq!(usage_period_end(&org, now), days_from_civil(2025, 6, 3) * day, "the billing period");
        let late = days_from_civil(2025, 6, 10) * day;
        assert_eq!(usage_period_end(&org, late), days_from_civil(2025, 7, 3) * day, "carried on while a renewal is late");
        org.usage.insert(Resource::ApiCalls, 5);
        assert_eq!(active(&org, Resource::ApiCalls, now), 5);
        assert_eq!(active(&org, Resource::ApiCalls, days_from_civil(2025, 6, 1) * day), 0, "the stored period ended");
        org.usage.insert(Resource::Agents, 5);
        assert_eq!(active(&org, Resource::Agents, i64::MAX), 5, "other resources are counts of live things");
    }

    #[test]
    fn limit_status_says_if_one_more_fits() {
        let org = Org::new("acme", "Acme", 0);
        let over = LimitStatus::new(&org, &Limit { resource: Resource::Agents, active: 3, cap: Some(1) }, 0);
        assert_eq!((over.remaining, over.can_create, over.over_cap, over.resets_at), (Some(0), false, true, None));
        let unlimited = LimitStatus::new(&org, &Limit { resource: Resource::Rows, active: 3, cap: None }, 0);
        assert_eq!((unlimited.remaining, unlimited.can_create, unlimited.over_cap), (None, true, false));
        let api_calls = LimitStatus::new(&org, &Limit { resource: Resource::ApiCalls, active: 0, cap: Some(5) }, 0);
        assert_eq!(api_calls.resets_at, org.usage_period_end);
    }

    #[test]
    fn the_402_message_names_the_next_step() {
        let catalog = Catalog::built_in().unwrap();
        let org = Org::new("acme", "Acme", 0);
        let limit = Limit { resource: Resource::Agents, active: 1, cap: Some(1) };
        let refusal = PlanLimitReached::new(&org, &catalog, catalog.free(), &limit, 2, CALLS);
        assert_eq!(refusal.upgrade.as_ref().unwrap().plan, "pro");
        assert_eq!(refusal.upgrade.as_ref().unwrap().mcp_tool, "upgrade");
        assert_eq!(refusal.increase.mcp_tool, "more");
        let message = refusal.message("Free");
        assert!(message.starts_with("The Free plan allows 1 agents; 1 are in use and 2 more were requested."), "{message}");
        assert!(message.contains("`pro`") && message.contains("POST /upgrade") && message.contains("POST /more"));
    }
}
