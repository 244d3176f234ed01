//! What an org may use right now: its effective plan and the cap of every gated resource.

use serde::Serialize;

use crate::domain::catalog::{Catalog, Plan, Resource};
use crate::domain::org::{Org, SubscriptionStatus};

/// The plan whose caps apply: the subscribed plan while it is paid for (or within the past-due
/// grace period), free otherwise. Design partners keep their plan whatever Stripe says.
pub fn effective_plan<'c>(org: &Org, catalog: &'c Catalog, now: i64, past_due_grace_secs: i64) -> &'c Plan {
    let paid_up = match org.status {
        SubscriptionStatus::Active | SubscriptionStatus::Trialing => true,
        SubscriptionStatus::PastDue => org.past_due_since.is_none_or(|since| now < since + past_due_grace_secs),
        _ => false,
    };
    match catalog.plan(&org.plan) {
        Some(plan) if paid_up || org.design_partner || plan.is_free() => plan,
        _ => catalog.free(),
    }
}

/// `active` vs `cap` for one resource; `cap: null` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limit {
    pub resource: Resource,
    pub active: u64,
    pub cap: Option<u64>,
}

impl Limit {
    pub fn can_add(&self, count: u64) -> bool {
        self.cap.is_none_or(|cap| self.active.saturating_add(count) <= cap)
    }
}

pub fn limits(org: &Org, plan: &Plan) -> Vec<Limit> {
    Resource::ALL
        .into_iter()
        .map(|resource| Limit { resource, active: org.usage_of(resource), cap: plan.cap(resource, org.quantity) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: i64 = 7 * 86_400;

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
    fn design_partner_keeps_its_plan_and_unknown_plans_are_free() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = pro_org(SubscriptionStatus::None);
        org.design_partner = true;
        assert_eq!(effective_plan(&org, &catalog, 0, GRACE).id, "pro");
        org.plan = "retired".into();
        assert_eq!(effective_plan(&org, &catalog, 0, GRACE).id, "free");
    }

    #[test]
    fn limits_report_usage_against_caps() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = Org::new("acme", "Acme", 0);
        org.usage.insert(Resource::Agents, 1);
        let limits = limits(&org, catalog.free());
        let agents = limits.iter().find(|l| l.resource == Resource::Agents).unwrap();
        assert_eq!((agents.active, agents.cap), (1, Some(1)));
        assert!(!agents.can_add(1));
        assert!(agents.can_add(0));
        assert_eq!(limits.len(), Resource::ALL.len());
        let unlimited = Limit { resource: Resource::Rows, active: u64::MAX, cap: None };
        assert!(unlimited.can_add(1));
    }
}
