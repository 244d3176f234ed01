//! The tools' input and output schemas, from the same types as the OpenAPI document: a type's
//! schema with every document schema it references, transitively, under `$defs`, so that each
//! is a self-contained JSON Schema object (MCP clients resolve `$ref`s within the schema only).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};
use utoipa::PartialSchema;

use crate::openapi;

const DOCUMENT_REF: &str = "#/components/schemas/";
const LOCAL_REF: &str = "#/$defs/";

/// The OpenAPI document's named schemas, as JSON.
fn components() -> &'static Map<String, Value> {
    static COMPONENTS: OnceLock<Map<String, Value>> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        openapi::schemas().into_iter().map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or(Value::Null))).collect()
    })
}

/// Points the document's `$ref`s at `$defs` and collects the names they reference.
fn localize(value: &mut Value, referenced: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get_mut("$ref")
                && let Some(name) = reference.strip_prefix(DOCUMENT_REF)
            {
                referenced.push(name.to_string());
                *reference = format!("{LOCAL_REF}{name}");
            }
            object.values_mut().for_each(|v| localize(v, referenced));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| localize(v, referenced)),
        _ => {}
    }
}

/// `root` as a self-contained object schema.
fn bundle(mut root: Value) -> Map<String, Value> {
    let mut pending = Vec::new();
    localize(&mut root, &mut pending);
    let mut defs = Map::new();
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let mut schema = components().get(&name).cloned().unwrap_or_else(|| json!({}));
        localize(&mut schema, &mut pending);
        defs.insert(name, schema);
    }
    let mut schema = match root {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    // MCP wants an object schema at the root; a `oneOf` of objects says so only inside.
    schema.entry("type").or_insert_with(|| json!("object"));
    if !defs.is_empty() {
        schema.insert("$defs".into(), Value::Object(defs));
    }
    schema
}

/// The schema the OpenAPI document names `name`.
pub fn named(name: &str) -> Map<String, Value> {
    bundle(components().get(name).cloned().unwrap_or_else(|| json!({})))
}

/// One of the schemas the document names `names`.
pub fn any_of(names: &[&str]) -> Map<String, Value> {
    let refs: Vec<Value> = names.iter().map(|name| json!({ "$ref": format!("{DOCUMENT_REF}{name}") })).collect();
    bundle(json!({ "anyOf": refs }))
}

/// The schema of a type of the MCP tools' own (the arguments a REST route takes in its path or
/// headers), built like the document's.
pub fn of<T: PartialSchema>() -> Map<String, Value> {
    bundle(serde_json::to_value(T::schema()).unwrap_or(Value::Null))
}

/// No arguments.
pub fn none() -> Map<String, Value> {
    bundle(json!({ "type": "object", "properties": {}, "additionalProperties": false }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                if let Some(Value::String(reference)) = object.get("$ref") {
                    found.push(reference.clone());
                }
                object.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn bundled_schemas_resolve_every_reference_within_themselves() {
        for schema in [named("UpgradeAnswer"), named("BillingSummary"), any_of(&["LimitsView", "LimitStatus"]), none()] {
            assert_eq!(schema["type"], "object");
            let schema = Value::Object(schema);
            let mut found = Vec::new();
            refs(&schema, &mut found);
            for reference in found {
                let name = reference.strip_prefix(LOCAL_REF).unwrap_or_else(|| panic!("not local: {reference}"));
                assert!(schema["$defs"][name].is_object(), "{name} is not bundled");
            }
        }
    }

    #[test]
    fn a_document_schema_is_bundled_as_the_document_has_it() {
        let upgrade = named("UpgradeBody");
        assert_eq!(upgrade["properties"]["plan"], components()["UpgradeBody"]["properties"]["plan"]);
        assert_eq!(upgrade["additionalProperties"], false);
    }
}
