//! Plan changes as pure rules: where an org stands, where a request wants it, and what that
//! comes to (switch now, at period end, nothing), plus the sentence a human agrees to.

use crate::domain::catalog::{Catalog, Interval, Plan};
pub use crate::domain::change::PlanConfig;
use crate::domain::org::Org;

/// What an upgrade request comes to for an org with a live subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeDecision {
    AlreadyOnPlan,
    /// Same configuration with a cancel or another change scheduled: lift it.
    Resume,
    /// Dearer: applied now, the proration invoiced at once.
    SwitchNow,
    /// Cheaper: at the end of the period.
    AtPeriodEnd,
}

/// Month -> year and anything dearer per year applies now; year -> month and anything cheaper
/// (or equal) waits for the period end, so the org keeps what it paid for.
pub fn decide_upgrade(org: &Org, target: &PlanConfig, catalog: &Catalog) -> UpgradeDecision {
    let current = PlanConfig::of(org);
    if current == *target {
        return match org.cancel_at_period_end || org.scheduled_change.is_some() {
            true => UpgradeDecision::Resume,
            false => UpgradeDecision::AlreadyOnPlan,
        };
    }
    match (current.interval, target.interval) {
        (Some(Interval::Month), Some(Interval::Year)) => UpgradeDecision::SwitchNow,
        (Some(Interval::Year), Some(Interval::Month)) => UpgradeDecision::AtPeriodEnd,
        _ if target.yearly(catalog) > current.yearly(catalog) => UpgradeDecision::SwitchNow,
        _ => UpgradeDecision::AtPeriodEnd,
    }
}

/// `Scale ×3 (monthly)`, `Pro (annual)`, `Free`.
pub fn describe(config: &PlanConfig, catalog: &Catalog) -> String {
    let plan: Option<&Plan> = catalog.plan(&config.plan);
    let name = plan.map_or(config.plan.as_str(), |p| p.name.as_str());
    let units = match plan.and_then(|p| p.per_unit.as_ref()) {
        Some(unit) => format!(" ×{} {}", config.quantity, unit.resource.as_str()),
        None => String::new(),
    };
    match config.interval {
        Some(Interval::Month) => format!("{name}{units} (monthly)"),
        Some(Interval::Year) => format!("{name}{units} (annual)"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::org::SubscriptionStatus;

    fn org(plan: &str, interval: Interval, quantity: u32) -> Org {
        let mut org = Org::new("acme", "Acme", 0);
        org.plan = plan.into();
        org.interval = Some(interval);
        org.quantity = quantity;
        org.status = SubscriptionStatus::Active;
        org
    }

    fn config(plan: &str, interval: Interval, quantity: u32) -> PlanConfig {
        PlanConfig { plan: plan.into(), interval: Some(interval), quantity }
    }

    #[test]
    fn dearer_applies_now_and_cheaper_waits_for_period_end() {
        let catalog = Catalog::built_in().unwrap();
        let pro = org("pro", Interval::Month, 1);
        assert_eq!(decide_upgrade(&pro, &config("scale", Interval::Month, 1), &catalog), UpgradeDecision::SwitchNow);
        assert_eq!(decide_upgrade(&pro, &config("pro", Interval::Year, 1), &catalog), UpgradeDecision::SwitchNow);
        assert_eq!(decide_upgrade(&pro, &config("pro", Interval::Month, 1), &catalog), UpgradeDecision::AlreadyOnPlan);
        let scale = org("scale", Interval::Month, 3);
        assert_eq!(decide_upgrade(&scale, &config("scale", Interval::Month, 4), &catalog), UpgradeDecision::SwitchNow);
        assert_eq!(decide_upgrade(&scale, &config("scale", Interval::Month, 2), &catalog), UpgradeDecision::AtPeriodEnd);
        assert_eq!(decide_upgrade(&scale, &config("pro", Interval::Month, 1), &catalog), UpgradeDecision::AtPeriodEnd);
        let annual = org("scale", Interval::Year, 1);
        assert_eq!(decide_upgrade(&annual, &config("scale", Interval::Month, 5), &catalog), UpgradeDecision::AtPeriodEnd);
        let mut canceling = org("pro", Interval::Month, 1);
        canceling.cancel_at_period_end = true;
        assert_eq!(decide_upgrade(&canceling, &config("pro", Interval::Month, 1), &catalog), UpgradeDecision::Resume);
    }

    #[test]
    fn descriptions_read_like_a_receipt() {
        let catalog = Catalog::built_in().unwrap();
        assert_eq!(describe(&config("scale", Interval::Month, 3), &catalog), "Scale ×3 servers (monthly)");
        assert_eq!(describe(&config("pro", Interval::Year, 1), &catalog), "Pro (annual)");
        assert_eq!(describe(&PlanConfig::free(), &catalog), "Free");
    }
}
