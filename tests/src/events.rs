//! The outbox end to end: the test table's stream, read as Lambda's event source would, through
//! the publisher's code, onto a bus in moto whose rule forwards to an SQS queue; and the check
//! of every event against its documented schema (docs/events.schema.json).

use billing_infra::outbox::{LocalBus, StreamPump};
use billing_shared::config::aws_sdk_config;
use serde_json::Value;

use crate::{TestApi, require_env, unique_table};

/// The documented schemas of the events' `detail`.
pub fn schema() -> Value {
    serde_json::from_str(include_str!("../../docs/events.schema.json")).expect("docs/events.schema.json is JSON")
}

pub struct Pipeline {
    pub pump: StreamPump,
    pub bus: LocalBus,
}

impl Pipeline {
    /// A bus and queue of the test's own in moto, and a reader of `api`'s table's stream.
    pub async fn start(api: &TestApi) -> Self {
        let moto = aws_sdk_config().await.into_builder().endpoint_url(require_env("MOTO_ENDPOINT")).build();
        let dynamodb = aws_sdk_config().await.into_builder().endpoint_url(require_env("AWS_ENDPOINT_URL_DYNAMODB")).build();
        let bus = LocalBus::create(&moto, &unique_table()).await.expect("create the bus in moto");
        let pump = StreamPump::new(&dynamodb, api.app.store.table()).await.expect("read the table's stream");
        Self { pump, bus }
    }

    /// Publishes what the stream holds and answers the events the queue received since the
    /// last call (EventBridge's envelopes), each checked against its schema.
    pub async fn deliver(&mut self) -> Vec<Value> {
        self.pump.pump(&self.bus.bus).await.expect("publish");
        let events = self.bus.drain().await.expect("read the queue");
        for event in &events {
            assert_eq!(event["source"], "stripe-billing-api", "{event}");
            assert_eq!(event["detail-type"], event["detail"]["type"], "{event}");
            if let Err(problem) = conforms(&schema(), &event["detail"]) {
                panic!("an event does not fit docs/events.schema.json: {problem}\n{event}");
            }
        }
        events
    }

    /// The events of `deliver`, as (type, detail).
    pub async fn deliver_details(&mut self) -> Vec<(String, Value)> {
        self.deliver().await.into_iter().map(|e| (e["detail-type"].as_str().unwrap_or_default().to_string(), e["detail"].clone())).collect()
    }
}

/// Whether `value` fits `schema` (the JSON Schema subset the document uses: `$ref`, `oneOf`,
/// `allOf`, `type`, `enum`, `required`, `properties`, `additionalProperties: false`).
pub fn conforms(root: &Value, value: &Value) -> Result<(), String> {
    check(root, root, value, "$")
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/$defs/");
        return check(root, &root["$defs"][name], value, at);
    }
    if let Some(variants) = schema["oneOf"].as_array() {
        let fitting = variants.iter().filter(|v| check(root, v, value, at).is_ok()).count();
        if fitting != 1 {
            return Err(format!("{at}: fits {fitting} of the oneOf variants, not exactly one"));
        }
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        check(root, part, value, at)?;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let type_of = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if !types.is_empty() && !types.contains(&type_of(value)) {
        return Err(format!("{at}: {value} is not of type {types:?}"));
    }
    let Some(fields) = value.as_object() else { return Ok(()) };
    for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if !fields.contains_key(name) {
            return Err(format!("{at}: `{name}` is missing"));
        }
    }
    let properties = schema["properties"].as_object();
    for (name, field) in fields {
        match properties.and_then(|p| p.get(name)) {
            Some(property) => check(root, property, field, &format!("{at}.{name}"))?,
            None if schema["additionalProperties"] == Value::Bool(false) => return Err(format!("{at}: `{name}` is not documented")),
            None => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_check_refuses_what_the_document_does_not_allow() {
        let root = schema();
        let good = serde_json::json!({
            "id": "act_1", "org_id": "acme", "occurred_at": 1, "source": "stripe-billing-api",
            "actor": {"kind": "stripe"}, "type": "billing.credits_low", "data": {"balance": 5, "level": 100}
        });
        assert_eq!(conforms(&root, &good), Ok(()));
        let mut extra = good.clone();
        extra["data"]["secret"] = "sk_live".into();
        assert!(conforms(&root, &extra).is_err());
        let mut wrong_type = good.clone();
        wrong_type["type"] = "billing.nope".into();
        assert!(conforms(&root, &wrong_type).is_err());
        let mut missing = good;
        missing.as_object_mut().unwrap().remove("actor");
        assert!(conforms(&root, &missing).is_err());
    }
}
