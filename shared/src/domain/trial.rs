//! Free trials as rules: who gets one (one per org, ever), for how long, and how far an admin
//! may push its end.

use crate::domain::catalog::Plan;
use crate::domain::org::{Org, SubscriptionStatus};

/// The most days one extension adds to a trial.
pub const MAX_EXTENSION_DAYS: u32 = 30;
const DAY_SECS: i64 = 86_400;

/// Whether the org's first subscription may start with a trial: it has had none (trial or
/// paid), and it is not a design partner (who pays nothing anyway).
pub fn trial_eligible(org: &Org) -> bool {
    !org.trial_spent && !org.design_partner
}

/// The days of trial a Checkout for `plan` gives the org now: the plan's, if the org is
/// eligible; else 0.
pub fn trial_days_offered(org: &Org, plan: &Plan) -> u32 {
    match trial_eligible(org) {
        true => plan.trial_days(),
        false => 0,
    }
}

/// The org is not in a trial: there is nothing to end or extend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotTrialing;

/// When the org's trial ends, while it is in one.
pub fn trial_end(org: &Org) -> Result<i64, NotTrialing> {
    match (org.status, org.trial_ends_at) {
        (SubscriptionStatus::Trialing, Some(end)) => Ok(end),
        _ => Err(NotTrialing),
    }
}

/// The new end of the org's trial once `days` more are given (counted from its current end,
/// or from `now` if that has passed and Stripe has not moved it on yet).
pub fn extended_trial_end(org: &Org, days: u32, now: i64) -> Result<i64, NotTrialing> {
    Ok(trial_end(org)?.max(now) + i64::from(days) * DAY_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::Catalog;

    fn trialing(ends_at: i64) -> Org {
        let mut org = Org::new("acme", "Acme", 0);
        org.plan = "pro".into();
        org.status = SubscriptionStatus::Trialing;
        org.trial_spent = true;
        org.trial_ends_at = Some(ends_at);
        org
    }

    #[test]
    fn one_trial_per_org_ever() {
        let mut catalog = Catalog::built_in().unwrap();
        catalog.plans.iter_mut().filter(|p| p.id == "pro").for_each(|p| p.trial_days = Some(14));
        let (pro, scale) = (catalog.plan("pro").unwrap(), catalog.plan("scale").unwrap());
        let mut org = Org::new("acme", "Acme", 0);
        assert!(trial_eligible(&org));
        assert_eq!((trial_days_offered(&org, pro), trial_days_offered(&org, scale)), (14, 0), "only plans with a trial");
        org.trial_spent = true;
        assert!(!trial_eligible(&org));
        assert_eq!(trial_days_offered(&org, pro), 0, "a second subscription starts paying");
        let mut partner = Org::new("acme", "Acme", 0);
        partner.design_partner = true;
        assert_eq!(trial_days_offered(&partner, pro), 0);
    }

    #[test]
    fn only_a_trial_can_be_ended_or_extended() {
        let org = trialing(1_000_000);
        assert_eq!(trial_end(&org), Ok(1_000_000));
        assert_eq!(extended_trial_end(&org, 2, 0), Ok(1_000_000 + 2 * DAY_SECS));
        assert_eq!(extended_trial_end(&org, 1, 2_000_000), Ok(2_000_000 + DAY_SECS), "from now once the end has passed");
        let mut active = org.clone();
        active.status = SubscriptionStatus::Active;
        assert_eq!(trial_end(&active), Err(NotTrialing));
        assert_eq!(extended_trial_end(&Org::new("acme", "Acme", 0), 1, 0), Err(NotTrialing));
    }
}
