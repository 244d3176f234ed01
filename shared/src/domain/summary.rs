//! The billing summary (`GET /billing`) and the public catalog (`GET /billing/plans`) bodies,
//! built from an org and the catalog.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::catalog::{Catalog, Interval, PerUnit, Plan, Resource};
use crate::domain::entitlements::{Limit, effective_plan, limits};
use crate::domain::org::{Card, Org, ScheduledChange, SubscriptionStatus};
use crate::domain::promotion::Discount;
use crate::domain::trial::trial_eligible;

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PriceView {
    pub amount: u64,
    pub currency: String,
    pub interval: Interval,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BillingSummary {
    pub org_id: String,
    pub plan: String,
    pub plan_name: String,
    /// The plan whose caps apply now (free when unpaid past the grace period).
    pub effective_plan: String,
    pub status: SubscriptionStatus,
    pub price: Option<PriceView>,
    pub interval: Option<Interval>,
    pub quantity: u32,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub scheduled_change: Option<ScheduledChange>,
    /// `trialing`: when the trial ends and the first charge comes (epoch seconds); else null.
    pub trial_ends_at: Option<i64>,
    /// Whether a Checkout would start with the plan's trial: the org has had no subscription
    /// (trial or paid) before.
    pub trial_eligible: bool,
    /// The discount on the subscription, or null.
    pub discount: Option<Discount>,
    pub design_partner: bool,
    pub card: Option<Card>,
    pub last_payment_error: Option<String>,
    pub credits: i64,
    /// Caps an admin granted this org (they replace the plan's); omitted when there are none.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub cap_overrides: std::collections::BTreeMap<Resource, Option<u64>>,
    pub limits: Vec<Limit>,
    /// A plan change sent to Stripe whose outcome is being confirmed (its function stopped
    /// before recording it); the next plan-change request, a webhook or the reconciler
    /// completes it within minutes. Omitted when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_being_confirmed: Option<ChangeBeingConfirmed>,
}

/// What a plan change whose outcome is being confirmed moves the org to.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChangeBeingConfirmed {
    /// `switch_now`, `at_period_end`, `to_free` or `resume`.
    pub kind: String,
    pub plan: String,
    pub interval: Option<Interval>,
    pub quantity: u32,
    /// When it was sent (epoch seconds).
    pub since: i64,
}

pub fn billing_summary(org: &Org, catalog: &Catalog, now: i64, grace_secs: i64) -> BillingSummary {
    let effective = effective_plan(org, catalog, now, grace_secs);
    let plan = match org.design_partner {
        true => effective,
        false => catalog.plan(&org.plan).unwrap_or(effective),
    };
    let price_of = |interval, amount| PriceView { amount, currency: catalog.currency.clone(), interval, quantity: org.quantity };
    let price = match org.design_partner {
        // A design partner has the top plan at no charge.
        true => Some(price_of(org.interval.unwrap_or(Interval::Month), 0)),
        false => {
            org.interval.and_then(|interval| plan.prices.get(interval).map(|p| price_of(interval, p.unit_amount * u64::from(org.quantity))))
        }
    };
    BillingSummary {
        org_id: org.org_id.clone(),
        plan: plan.id.clone(),
        plan_name: plan.name.clone(),
        effective_plan: effective.id.clone(),
        status: org.status,
        price,
        interval: org.interval,
        quantity: org.quantity,
        current_period_end: org.current_period_end,
        cancel_at_period_end: org.cancel_at_period_end,
        scheduled_change: org.scheduled_change.clone(),
        trial_ends_at: org.trial_ends_at.filter(|_| org.status == SubscriptionStatus::Trialing),
        trial_eligible: trial_eligible(org),
        discount: org.discount.clone(),
        design_partner: org.design_partner,
        card: org.card.clone(),
        last_payment_error: org.last_payment_error.clone(),
        credits: org.credits,
        cap_overrides: org.cap_overrides.clone(),
        limits: limits(org, effective, now),
        change_being_confirmed: org.change_intent.as_ref().map(|intent| ChangeBeingConfirmed {
            kind: intent.change.kind.as_str().to_string(),
            plan: intent.change.to.plan.clone(),
            interval: intent.change.to.interval,
            quantity: intent.change.to.quantity,
            since: intent.started_at,
        }),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanPriceView {
    pub amount: u64,
    pub currency: String,
    pub per_unit: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub monthly: Option<PlanPriceView>,
    pub annual: Option<PlanPriceView>,
    pub per_unit: Option<&'a PerUnit>,
    pub caps: std::collections::BTreeMap<Resource, Option<u64>>,
    /// Days of free trial a first subscription to this plan starts with (0: none).
    pub trial_days: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreditsView {
    pub amount: u64,
    pub currency: String,
    pub credits_per_bundle: u64,
    pub max_bundles: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogView<'a> {
    pub plans: Vec<PlanView<'a>>,
    pub credits: CreditsView,
}

/// The public catalog: amounts and caps, never Stripe price ids (they are resolved server side).
pub fn catalog_view(catalog: &Catalog) -> CatalogView<'_> {
    let price = |plan: &Plan, interval| {
        plan.prices.get(interval).map(|p| PlanPriceView {
            amount: p.unit_amount,
            currency: catalog.currency.clone(),
            per_unit: plan.per_unit.is_some(),
        })
    };
    CatalogView {
        plans: catalog
            .plans
            .iter()
            .map(|plan| PlanView {
                id: &plan.id,
                name: &plan.name,
                monthly: price(plan, Interval::Month),
                annual: price(plan, Interval::Year),
                per_unit: plan.per_unit.as_ref(),
                caps: plan.caps.clone(),
                trial_days: plan.trial_days(),
            })
            .collect(),
        credits: CreditsView {
            amount: catalog.credits.unit_amount,
            currency: catalog.currency.clone(),
            credits_per_bundle: catalog.credits.credits_per_bundle,
            max_bundles: catalog.credits.max_bundles,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_prices_per_unit_plans_by_quantity() {
        let catalog = Catalog::built_in().unwrap();
        let mut org = Org::new("acme", "Acme", 0);
        org.plan = "scale".into();
        org.status = SubscriptionStatus::Active;
        org.interval = Some(Interval::Month);
        org.quantity = 3;
        let summary = serde_json::to_value(billing_summary(&org, &catalog, 0, 0)).unwrap();
        assert_eq!(summary["price"]["amount"], 3 * 4900);
        assert_eq!(summary["effective_plan"], "scale");
        let servers = summary["limits"].as_array().unwrap().iter().find(|l| l["resource"] == "servers").unwrap();
        assert_eq!(servers["cap"], 3);
    }

    #[test]
    fn free_org_has_no_price_and_free_caps() {
        let catalog = Catalog::built_in().unwrap();
        let org = Org::new("acme", "Acme", 0);
        let summary = serde_json::to_value(billing_summary(&org, &catalog, 0, 0)).unwrap();
        assert_eq!(summary["plan"], "free");
        assert!(summary["price"].is_null());
        assert_eq!(summary["status"], "none");
        assert_eq!(summary["limits"][0], serde_json::json!({"resource": "agents", "active": 0, "cap": 1}));
    }

    #[test]
    fn catalog_view_hides_stripe_price_ids() {
        let catalog = Catalog::built_in().unwrap();
        let text = serde_json::to_string(&catalog_view(&catalog)).unwrap();
        assert!(!text.contains("price_"), "{text}");
        let view = serde_json::to_value(catalog_view(&catalog)).unwrap();
        assert_eq!(view["plans"][1]["monthly"]["amount"], 1900);
        assert_eq!(view["plans"][2]["per_unit"]["resource"], "servers");
        assert!(view["plans"][0]["monthly"].is_null());
    }
}
