//! Plan changes as pure rules: where an org stands, where a request wants it, and what that
//! comes to (switch now, at period end, nothing), plus the sentence a human agrees to.

use crate::domain::calendar::format_instant;
use crate::domain::catalog::{Catalog, Interval, Plan, money};
pub use crate::domain::change::PlanConfig;
use crate::domain::change::{Change, ChangeKind};
use crate::domain::invalid::FieldProblem;
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

/// The configuration an upgrade to the paid `plan` asks for: the interval defaults to the org's
/// (else monthly), the quantity of a per-unit plan to the org's on the same plan (else the
/// plan's minimum). Every problem, by field.
pub fn configure(plan: &Plan, org: &Org, interval: Option<Interval>, quantity: Option<u32>) -> Result<PlanConfig, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let interval = interval.or(org.interval).unwrap_or(Interval::Month);
    if plan.prices.get(interval).is_none() {
        problems.push(FieldProblem::new("interval", format!("`{}` is not offered for this plan", interval.as_str())));
    }
    let quantity = match (&plan.per_unit, quantity) {
        (Some(unit), quantity) => {
            let quantity = quantity.unwrap_or(if org.plan == plan.id { org.quantity } else { unit.min_quantity });
            if !(unit.min_quantity..=unit.max_quantity).contains(&quantity) {
                problems.push(FieldProblem::new(
                    "quantity",
                    format!("must be {} to {} {}", unit.min_quantity, unit.max_quantity, unit.resource.as_str()),
                ));
            }
            quantity
        }
        (None, Some(q)) if q != 1 => {
            problems.push(FieldProblem::new("quantity", "must be 1 (or left out): this plan is not priced per unit"));
            q
        }
        _ => 1,
    };
    match problems.is_empty() {
        true => Ok(PlanConfig { plan: plan.id.clone(), interval: Some(interval), quantity }),
        false => Err(problems),
    }
}

/// The sentence a human says yes to, with the amounts of `change` in the catalog's currency.
/// The later periods' amount is the list price: said so where a discount or tax changes it.
pub fn consent_message(org: &Org, change: &Change, catalog: &Catalog, automatic_tax: bool) -> String {
    let org_name = &org.name;
    let currency = &catalog.currency;
    let (from, to) = (describe(&change.from, catalog), describe(&change.to, catalog));
    let per = match change.to.interval {
        Some(Interval::Year) => "year",
        _ => "month",
    };
    let discounted = change.promotion_code.is_some() || change.discount_due_now > 0 || org.discount.is_some();
    let list_price = match (discounted, automatic_tax) {
        (true, true) => " before discount and tax",
        (true, false) => " before discount",
        (false, true) => " plus tax",
        (false, false) => "",
    };
    let recurring = money(i64::try_from(change.recurring_amount).unwrap_or(i64::MAX), currency);
    if let Some(trial_ends_at) = change.trial_ends_at {
        let ends = &format_instant(trial_ends_at)[..10];
        match change.kind {
            ChangeKind::SwitchNow | ChangeKind::AtPeriodEnd => {
                return format!(
                    "Move {org_name} from {from} to {to} during its free trial: nothing is charged today; from the trial's end on {ends}, {recurring} per {per}{list_price}."
                );
            }
            ChangeKind::ToFree => {
                return format!(
                    "Move {org_name} from {from} to Free when its free trial ends on {ends}: the subscription ends then and nothing is charged."
                );
            }
            ChangeKind::Resume | ChangeKind::EndTrial => {}
        }
    }
    match change.kind {
        ChangeKind::SwitchNow => format!(
            "Switch {org_name} from {from} to {to} now: {} is charged today ({}), then {recurring} per {per}{list_price}.",
            money(change.amount_due_now, currency),
            what_is_in(change, currency, "prorated")
        ),
        ChangeKind::AtPeriodEnd => format!(
            "Move {org_name} from {from} to {to} at the end of the current period: nothing is charged today, then {recurring} per {per}{list_price}."
        ),
        ChangeKind::ToFree => format!(
            "Move {org_name} from {from} to Free at the end of the current period: the subscription ends then and nothing more is charged."
        ),
        ChangeKind::Resume => format!("Keep {org_name} on {from}."),
        ChangeKind::EndTrial => format!(
            "End {org_name}'s free trial of {from} now: {} is charged today ({}), then {recurring} per {per}{list_price}.",
            money(change.amount_due_now, currency),
            what_is_in(change, currency, "the first period")
        ),
    }
}

/// What the amount charged now is made of: `prorated, after a $4.00 discount, $1.60 tax included`.
fn what_is_in(change: &Change, currency: &str, first: &str) -> String {
    let mut parts = vec![first.to_string()];
    if change.discount_due_now > 0 {
        parts.push(format!("after a {} discount", money(change.discount_due_now, currency)));
    }
    if change.tax_due_now > 0 {
        parts.push(format!("{} tax included", money(change.tax_due_now, currency)));
    }
    parts.join(", ")
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
    fn an_upgrade_is_configured_from_the_org_and_the_plan() {
        let catalog = Catalog::built_in().unwrap();
        let (pro, scale) = (catalog.plan("pro").unwrap(), catalog.plan("scale").unwrap());
        let annual_scale = org("scale", Interval::Year, 4);
        assert_eq!(configure(scale, &annual_scale, None, None), Ok(config("scale", Interval::Year, 4)), "the org's interval and units");
        assert_eq!(configure(pro, &annual_scale, None, None), Ok(config("pro", Interval::Year, 1)));
        let free = Org::new("acme", "Acme", 0);
        let minimum = scale.per_unit.as_ref().unwrap().min_quantity;
        assert_eq!(configure(scale, &free, None, None), Ok(config("scale", Interval::Month, minimum)), "a new plan starts at its minimum");
        let fields = |result: Result<PlanConfig, Vec<FieldProblem>>| result.unwrap_err().into_iter().map(|p| p.field).collect::<Vec<_>>();
        assert_eq!(fields(configure(pro, &free, None, Some(2))), ["quantity"]);
        assert_eq!(fields(configure(scale, &free, None, Some(0))), ["quantity"]);
        assert_eq!(configure(pro, &free, Some(Interval::Month), Some(1)), Ok(config("pro", Interval::Month, 1)), "1 is fine");
    }

    /// A change from Pro (monthly) to `to`, without trial, tax or discount.
    fn from_pro(catalog: &Catalog, kind: ChangeKind, to: PlanConfig, amount_due_now: i64) -> Change {
        Change {
            kind,
            from: config("pro", Interval::Month, 1),
            recurring_amount: to.amount(catalog),
            to,
            amount_due_now,
            effective_at: None,
            proration_date: 0,
            trial_ends_at: None,
            tax_due_now: 0,
            discount_due_now: 0,
            promotion_code: None,
        }
    }

    #[test]
    fn the_consent_sentence_names_what_is_charged_and_when() {
        let catalog = Catalog::built_in().unwrap();
        let acme = org("pro", Interval::Month, 1);
        let change = |kind, to, amount_due_now| from_pro(&catalog, kind, to, amount_due_now);
        let now = consent_message(&acme, &change(ChangeKind::SwitchNow, config("pro", Interval::Year, 1), 17_333), &catalog, false);
        assert!(now.starts_with("Switch Acme from Pro (monthly) to Pro (annual) now: $173.33 is charged today"), "{now}");
        assert!(now.ends_with("per year."), "{now}");
        let later = consent_message(&acme, &change(ChangeKind::AtPeriodEnd, config("scale", Interval::Month, 2), 0), &catalog, false);
        assert!(later.contains("at the end of the current period: nothing is charged today"), "{later}");
        let free = consent_message(&acme, &change(ChangeKind::ToFree, PlanConfig::free(), 0), &catalog, false);
        assert!(free.contains("to Free") && free.contains("nothing more is charged"), "{free}");
        let pro = config("pro", Interval::Month, 1);
        let end = consent_message(&acme, &change(ChangeKind::EndTrial, pro.clone(), 1900), &catalog, false);
        assert!(end.starts_with("End Acme's free trial of Pro (monthly) now: $19.00 is charged today (the first period)"), "{end}");
        let taxed = Change { tax_due_now: 152, discount_due_now: 380, ..change(ChangeKind::EndTrial, pro.clone(), 1672) };
        let taxed = consent_message(&acme, &taxed, &catalog, false);
        assert!(taxed.contains("$16.72 is charged today (the first period, after a $3.80 discount, $1.52 tax included)"), "{taxed}");
        // 2026-03-01T00:00:00Z
        let in_trial = |kind, to| Change { trial_ends_at: Some(1_772_323_200), ..change(kind, to, 0) };
        let switch = consent_message(&acme, &in_trial(ChangeKind::SwitchNow, config("scale", Interval::Month, 2)), &catalog, false);
        assert!(switch.contains("nothing is charged today; from the trial's end on 2026-03-01, $98.00 per month"), "{switch}");
        let leave = consent_message(&acme, &in_trial(ChangeKind::ToFree, PlanConfig::free()), &catalog, false);
        assert!(leave.contains("when its free trial ends on 2026-03-01") && leave.contains("nothing is charged"), "{leave}");
    }

    #[test]
    fn the_later_periods_are_said_to_be_list_price_where_a_discount_or_tax_changes_them() {
        let catalog = Catalog::built_in().unwrap();
        let acme = org("pro", Interval::Month, 1);
        let plain = from_pro(&catalog, ChangeKind::SwitchNow, config("scale", Interval::Month, 2), 6142);
        assert!(consent_message(&acme, &plain, &catalog, false).ends_with("then $98.00 per month."));
        let taxed = consent_message(&acme, &plain, &catalog, true);
        assert!(taxed.ends_with("then $98.00 per month plus tax."), "{taxed}");
        let coded = Change { promotion_code: Some("LAUNCH20".into()), ..plain.clone() };
        assert!(consent_message(&acme, &coded, &catalog, false).ends_with("then $98.00 per month before discount."));
        assert!(consent_message(&acme, &coded, &catalog, true).ends_with("then $98.00 per month before discount and tax."));
        let mut discounted = acme.clone();
        discounted.discount = Some(crate::domain::promotion::Discount {
            promotion_code: Some("LAUNCH20".into()),
            percent_off: Some(20.0),
            amount_off: None,
            currency: None,
            duration: crate::domain::promotion::Duration::Forever,
            ends_at: None,
        });
        let trial = Change { trial_ends_at: Some(1_772_323_200), amount_due_now: 0, ..plain };
        let during_trial = consent_message(&discounted, &trial, &catalog, false);
        assert!(during_trial.ends_with("from the trial's end on 2026-03-01, $98.00 per month before discount."), "{during_trial}");
    }

    #[test]
    fn descriptions_read_like_a_receipt() {
        let catalog = Catalog::built_in().unwrap();
        assert_eq!(describe(&config("scale", Interval::Month, 3), &catalog), "Scale ×3 servers (monthly)");
        assert_eq!(describe(&config("pro", Interval::Year, 1), &catalog), "Pro (annual)");
        assert_eq!(describe(&PlanConfig::free(), &catalog), "Free");
    }
}
