//! Reads the table of `template.yaml`, the one place it is defined, so the local run and the
//! tests create exactly the table AWS gets. (The routes are read at build time by
//! `functions/build.rs`.)

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use serde_yaml::Value;

pub const TEMPLATE: &str = include_str!("../../template.yaml");

#[derive(Debug, thiserror::Error)]
#[error("template.yaml: {0}")]
pub struct TemplateError(pub String);

pub struct Template {
    root: Value,
}

fn strip_tags(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => &tagged.value,
        other => other,
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    strip_tags(value.get(key)?).as_str()
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let root = serde_yaml::from_str(text).map_err(|e| TemplateError(e.to_string()))?;
        Ok(Self { root })
    }

    pub fn built_in() -> Self {
        Self::parse(TEMPLATE).expect("template.yaml parses (checked by tests)")
    }

    fn resources_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter(move |(_, r)| text(r, "Type") == Some(kind))
            .filter_map(|(name, r)| Some((name.as_str()?, r)))
    }

    fn table(&self) -> Result<&Value, TemplateError> {
        let mut tables = self.resources_of_type("AWS::DynamoDB::Table");
        match (tables.next(), tables.next()) {
            (Some((_, table)), None) => table.get("Properties").ok_or_else(|| TemplateError("table without Properties".into())),
            _ => Err(TemplateError("expected exactly one AWS::DynamoDB::Table".into())),
        }
    }

    /// Creates the template's table under `name` (with its GSIs and TTL) in the endpoint `client` talks to.
    pub async fn create_table(&self, client: &Client, name: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let props = self.table()?;
        let key_schema = |list: Option<&Value>| -> Result<Vec<KeySchemaElement>, TemplateError> {
            list.and_then(Value::as_sequence)
                .ok_or_else(|| TemplateError("KeySchema missing".into()))?
                .iter()
                .map(|k| {
                    KeySchemaElement::builder()
                        .attribute_name(text(k, "AttributeName").unwrap_or_default())
                        .key_type(KeyType::from(text(k, "KeyType").unwrap_or_default()))
                        .build()
                        .map_err(|e| TemplateError(e.to_string()))
                })
                .collect()
        };
        let attributes = props
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .ok_or_else(|| TemplateError("AttributeDefinitions missing".into()))?
            .iter()
            .map(|a| {
                AttributeDefinition::builder()
                    .attribute_name(text(a, "AttributeName").unwrap_or_default())
                    .attribute_type(ScalarAttributeType::from(text(a, "AttributeType").unwrap_or_default()))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut request = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_schema(props.get("KeySchema"))?));
        // The stream the publisher reads (the local run reads it as the Lambda event source would).
        if let Some(view) = props.get("StreamSpecification").and_then(|s| text(s, "StreamViewType")) {
            request = request.stream_specification(
                StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::from(view)).build()?,
            );
        }
        for index in props.get("GlobalSecondaryIndexes").and_then(Value::as_sequence).into_iter().flatten() {
            let projection = index.get("Projection").and_then(|p| text(p, "ProjectionType")).unwrap_or("ALL");
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(text(index, "IndexName").unwrap_or_default())
                    .set_key_schema(Some(key_schema(index.get("KeySchema"))?))
                    .projection(Projection::builder().projection_type(ProjectionType::from(projection)).build())
                    .build()?,
            );
        }
        // A slow DynamoDB Local can time out the first attempt after creating the table, and the
        // SDK's retry then finds it: that table is this call's own.
        match request.send().await {
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
            other => {
                other?;
            }
        }
        if let Some(ttl) = props.get("TimeToLiveSpecification") {
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(text(ttl, "AttributeName").unwrap_or_default())
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_declares_one_table() {
        assert!(Template::built_in().table().is_ok());
    }
}
