//! The JSON schemas of request fields whose valid values come from the catalog or the domain
//! (paid plans, quantities, credit bundles, signal kinds): the body types name them in their
//! `#[schema(schema_with = ...)]`, and the OpenAPI document and MCP tools are built from those
//! types. Here, below the use cases, so that nothing imports the document.

use serde_json::Value;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

use crate::domain::catalog::Catalog;
use crate::domain::signals::SignalKind;

/// The paid plans of the built-in catalog (the one the document describes).
fn paid_plans() -> Vec<String> {
    built_in().plans.iter().filter(|plan| !plan.is_free()).map(|plan| plan.id.clone()).collect()
}

pub fn paid_plan() -> Schema {
    let description = "A paid plan of the catalog (`GET /billing/plans`).";
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(paid_plans())).description(Some(description)).into()
}

pub fn paid_plan_or_null() -> Schema {
    let mut plans: Vec<Value> = paid_plans().into_iter().map(Value::from).collect();
    plans.push(Value::Null);
    let description = "A paid plan of the catalog; default `pro`.";
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(plans))
        .description(Some(description))
        .into()
}

/// The largest `per_unit.max_quantity` of the catalog (other plans take only 1).
fn most_units() -> u32 {
    built_in().plans.iter().filter_map(|plan| plan.per_unit.as_ref()).map(|unit| unit.max_quantity).max().unwrap_or(1)
}

/// 1 to `most_units` (other plans take only 1).
pub fn plan_quantity() -> Schema {
    let max = most_units();
    let description = "Per-unit plans: the units, within the plan's `per_unit` range (default: the current quantity on the \
        same plan, else the plan's minimum); other plans: 1 or left out.";
    let types = SchemaType::from_iter([Type::Integer, Type::Null]);
    ObjectBuilder::new().schema_type(types).minimum(Some(1)).maximum(Some(max)).description(Some(description)).into()
}

pub fn credit_bundles() -> Schema {
    let max = built_in().credits.max_bundles;
    let description = "Credit bundles to buy: 1 to the catalog's `credits.max_bundles`.";
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(max)).description(Some(description)).into()
}

/// A limit-increase kind: a resource or `other`.
pub fn signal_kind() -> Schema {
    let mut kinds: Vec<Value> = SignalKind::names().into_iter().map(Value::from).collect();
    kinds.push(Value::Null);
    let description = "A gated resource, or `other` (the default).";
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(kinds))
        .description(Some(description))
        .into()
}

/// The catalog the document describes: the built-in one (a unit test of `domain::catalog`
/// holds it valid).
fn built_in() -> Catalog {
    Catalog::built_in().expect("the built-in catalog is valid")
}
