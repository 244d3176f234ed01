//! The plan catalog: plans, their Stripe prices and caps, and the credit bundle price.
//! Loaded from one JSON file (`shared/plans.json` is built in; `CATALOG_FILE` overrides it).
//! Prices are always resolved here, server side, never taken from a client.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::invalid::FieldProblem;

/// A gated resource: every plan has a cap for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Agents,
    Members,
    Workspaces,
    Rows,
    ApiCalls,
    Webhooks,
    Servers,
}

impl Resource {
    pub const ALL: [Resource; 7] =
        [Self::Agents, Self::Members, Self::Workspaces, Self::Rows, Self::ApiCalls, Self::Webhooks, Self::Servers];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agents => "agents",
            Self::Members => "members",
            Self::Workspaces => "workspaces",
            Self::Rows => "rows",
            Self::ApiCalls => "api_calls",
            Self::Webhooks => "webhooks",
            Self::Servers => "servers",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Month,
    Year,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub price_id: String,
    /// Smallest currency unit (cents), per unit for per-unit plans.
    pub unit_amount: u64,
}

/// Per-unit pricing: the quantity bought is the cap of `resource`.
/// A plan's prices by billing interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<Price>,
}

impl Prices {
    pub fn get(&self, interval: Interval) -> Option<&Price> {
        match interval {
            Interval::Month => self.month.as_ref(),
            Interval::Year => self.year.as_ref(),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (Interval, &Price)> {
        [Interval::Month, Interval::Year].into_iter().filter_map(|i| self.get(i).map(|p| (i, p)))
    }

    pub fn is_empty(&self) -> bool {
        self.month.is_none() && self.year.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PerUnit {
    pub resource: Resource,
    pub min_quantity: u32,
    pub max_quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub id: String,
    pub name: String,
    /// No price for the free plan.
    pub prices: Prices,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit: Option<PerUnit>,
    /// `None` is unlimited. Every resource must be listed.
    pub caps: BTreeMap<Resource, Option<u64>>,
    /// A paid plan's free trial, in days (Stripe's `trial_period_days`); none when absent or 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_days: Option<u32>,
}

impl Plan {
    pub fn is_free(&self) -> bool {
        self.prices.is_empty()
    }

    /// The days of trial a first subscription to this plan starts with (0: none).
    pub fn trial_days(&self) -> u32 {
        self.trial_days.unwrap_or(0)
    }

    /// The cap of `resource` for an org holding `quantity` units of this plan.
    pub fn cap(&self, resource: Resource, quantity: u32) -> Option<u64> {
        match &self.per_unit {
            Some(per_unit) if per_unit.resource == resource => Some(u64::from(quantity)),
            _ => self.caps.get(&resource).copied().flatten(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditBundle {
    pub price_id: String,
    pub unit_amount: u64,
    pub credits_per_bundle: u64,
    pub max_bundles: u32,
}

impl CreditBundle {
    /// What is wrong with buying `quantity` bundles at once, if anything.
    pub fn quantity_problem(&self, quantity: u32) -> Option<FieldProblem> {
        let allowed = 1..=self.max_bundles;
        (!allowed.contains(&quantity)).then(|| FieldProblem::new("quantity", format!("must be 1 to {} bundles", self.max_bundles)))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub currency: String,
    pub plans: Vec<Plan>,
    pub credits: CreditBundle,
}

pub const FREE_PLAN: &str = "free";
/// The longest trial Stripe accepts (`trial_period_days`).
pub const MAX_TRIAL_DAYS: u32 = 730;
const BUILT_IN: &str = include_str!("../../plans.json");

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("plan catalog {file}: `{field}` {problem}")]
pub struct CatalogError {
    pub file: String,
    pub field: String,
    pub problem: String,
}

impl Catalog {
    /// The catalog shipped with the build (`shared/plans.json`).
    pub fn built_in() -> Result<Self, CatalogError> {
        Self::parse("shared/plans.json", BUILT_IN)
    }

    pub fn load_file(path: &str) -> Result<Self, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError {
            file: path.to_string(),
            field: "(file)".into(),
            problem: format!("cannot be read: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Parses and checks a catalog; errors name the file and the field at fault.
    pub fn parse(file: &str, text: &str) -> Result<Self, CatalogError> {
        let error = |field: String, problem: String| CatalogError { file: file.to_string(), field, problem };
        let de = &mut serde_json::Deserializer::from_str(text);
        let catalog: Catalog = serde_path_to_error::deserialize(de).map_err(|e| error(e.path().to_string(), e.inner().to_string()))?;
        catalog.check().map_err(|(field, problem)| error(field, problem))?;
        Ok(catalog)
    }

    fn check(&self) -> Result<(), (String, String)> {
        if self.plan(FREE_PLAN).is_none_or(|p| !p.is_free()) {
            return Err(("plans".into(), "must contain a plan `free` without prices".into()));
        }
        let mut seen_prices = std::collections::BTreeSet::new();
        for (i, plan) in self.plans.iter().enumerate() {
            let at = |f: &str| format!("plans[{i}].{f}");
            if self.plans.iter().filter(|p| p.id == plan.id).count() > 1 {
                return Err((at("id"), format!("`{}` appears twice", plan.id)));
            }
            if let Some(missing) = Resource::ALL.iter().find(|r| !plan.caps.contains_key(r)) {
                return Err((at("caps"), format!("has no cap for `{}`", missing.as_str())));
            }
            if let Some(per_unit) = &plan.per_unit
                && (per_unit.min_quantity == 0 || per_unit.min_quantity > per_unit.max_quantity)
            {
                return Err((at("per_unit"), "needs 1 <= min_quantity <= max_quantity".into()));
            }
            if plan.trial_days() > 0 && plan.is_free() {
                return Err((at("trial_days"), "only a paid plan has a trial".into()));
            }
            if plan.trial_days() > MAX_TRIAL_DAYS {
                return Err((at("trial_days"), format!("must be at most {MAX_TRIAL_DAYS} (Stripe's limit)")));
            }
            for (interval, price) in plan.prices.iter() {
                if !price.price_id.starts_with("price_") {
                    return Err((at(&format!("prices.{}.price_id", interval.as_str())), "must be a Stripe price id (price_...)".into()));
                }
                if !seen_prices.insert(price.price_id.as_str()) {
                    return Err((at(&format!("prices.{}.price_id", interval.as_str())), "is used twice".into()));
                }
            }
        }
        if !self.credits.price_id.starts_with("price_") || seen_prices.contains(self.credits.price_id.as_str()) {
            return Err(("credits.price_id".into(), "must be a Stripe price id of its own".into()));
        }
        if self.credits.max_bundles == 0 || self.credits.credits_per_bundle == 0 {
            return Err(("credits".into(), "max_bundles and credits_per_bundle must be at least 1".into()));
        }
        Ok(())
    }

    pub fn plan(&self, id: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }

    pub fn free(&self) -> &Plan {
        self.plan(FREE_PLAN).expect("checked at load: the catalog has a free plan")
    }

    /// The plan design partners get: the last one listed (the catalog lists plans cheapest first).
    pub fn top(&self) -> &Plan {
        self.plans.last().expect("checked at load: the catalog has a free plan")
    }

    /// Maps a Stripe price back to its plan and interval (webhooks).
    pub fn plan_for_price(&self, price_id: &str) -> Option<(&Plan, Interval)> {
        self.plans.iter().find_map(|plan| plan.prices.iter().find(|(_, p)| p.price_id == price_id).map(|(interval, _)| (plan, interval)))
    }
}

/// `$12.34` for usd, `12.34 EUR` otherwise.
pub fn money(amount: i64, currency: &str) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    let figure = format!("{}.{:02}", abs / 100, abs % 100);
    match currency {
        "usd" => format!("{sign}${figure}"),
        other => format!("{sign}{figure} {}", other.to_ascii_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_like_a_receipt() {
        assert_eq!(money(1234, "usd"), "$12.34");
        assert_eq!(money(5, "eur"), "0.05 EUR");
        assert_eq!(money(-250, "usd"), "-$2.50");
    }

    #[test]
    fn bundles_are_bought_one_to_the_most_at_once() {
        let bundle = Catalog::built_in().unwrap().credits;
        assert!(bundle.quantity_problem(1).is_none() && bundle.quantity_problem(bundle.max_bundles).is_none());
        assert_eq!(bundle.quantity_problem(0).map(|p| p.field), Some("quantity".to_string()));
        assert!(bundle.quantity_problem(bundle.max_bundles + 1).is_some());
    }

    #[test]
    fn built_in_catalog_loads_with_the_default_plans() {
        let catalog = Catalog::built_in().unwrap();
        let ids: Vec<_> = catalog.plans.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["free", "pro", "scale"]);
        assert_eq!(catalog.plan("pro").unwrap().prices.month.as_ref().unwrap().unit_amount, 1900);
        assert_eq!(catalog.plan("scale").unwrap().prices.month.as_ref().unwrap().unit_amount, 4900);
        assert!(catalog.free().is_free());
    }

    #[test]
    fn per_unit_plan_caps_its_resource_by_quantity() {
        let catalog = Catalog::built_in().unwrap();
        let scale = catalog.plan("scale").unwrap();
        assert_eq!(scale.cap(Resource::Servers, 7), Some(7));
        assert_eq!(scale.cap(Resource::Agents, 7), None);
        assert_eq!(catalog.free().cap(Resource::Agents, 1), Some(1));
    }

    #[test]
    fn price_maps_back_to_plan_and_interval() {
        let catalog = Catalog::built_in().unwrap();
        let (plan, interval) = catalog.plan_for_price("price_pro_annual").unwrap();
        assert_eq!((plan.id.as_str(), interval), ("pro", Interval::Year));
        assert!(catalog.plan_for_price("price_unknown").is_none());
    }

    fn broken(edit: impl FnOnce(&mut serde_json::Value)) -> CatalogError {
        let mut value: serde_json::Value = serde_json::from_str(BUILT_IN).unwrap();
        edit(&mut value);
        Catalog::parse("plans.json", &value.to_string()).unwrap_err()
    }

    #[test]
    fn malformed_catalog_names_file_and_field() {
        let err = broken(|v| v["plans"][1]["prices"]["month"]["unit_amount"] = "19".into());
        assert_eq!(err.file, "plans.json");
        assert_eq!(err.field, "plans[1].prices.month.unit_amount");

        let err = broken(|v| v["plans"][2]["caps"].as_object_mut().unwrap().remove("rows").map(|_| ()).unwrap());
        assert_eq!((err.field.as_str(), err.problem.as_str()), ("plans[2].caps", "has no cap for `rows`"));

        let err = broken(|v| v["plans"][1]["id"] = "scale".into());
        assert_eq!(err.field, "plans[1].id");

        let err = broken(|v| v["plans"][0]["id"] = "basic".into());
        assert_eq!(err.field, "plans");

        let err = broken(|v| v["plans"][2]["per_unit"]["min_quantity"] = 0.into());
        assert_eq!(err.field, "plans[2].per_unit");

        let err = broken(|v| v["plans"][1]["colour"] = "red".into());
        assert!(err.problem.contains("unknown field"), "{err}");

        let err = Catalog::parse("plans.json", "{").unwrap_err();
        assert!(err.to_string().starts_with("plan catalog plans.json:"), "{err}");
    }

    #[test]
    fn missing_catalog_file_is_a_clear_error() {
        let err = Catalog::load_file("/nonexistent/plans.json").unwrap_err();
        assert_eq!(err.file, "/nonexistent/plans.json");
        assert!(err.problem.starts_with("cannot be read"));
    }
}
