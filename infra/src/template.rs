//! Reads `template.yaml`, the one source of truth for the table and the routes, so the local run
//! and the tests create exactly the table and serve exactly the routes that AWS gets.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use serde_yaml::Value;

pub const TEMPLATE: &str = include_str!("../../template.yaml");

#[derive(Debug, thiserror::Error)]
#[error("template.yaml: {0}")]
pub struct TemplateError(pub String);

/// One HTTP API route of a function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
    /// The cargo binary (`Metadata.BuildProperties.Binary`) that serves it.
    pub binary: String,
    /// Whether the API's default authorizer runs first (`Auth.Authorizer: NONE` turns it off).
    pub authorized: bool,
}

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

    /// The cargo binary of every function (routes' functions and the authorizer).
    pub fn binaries(&self) -> Result<Vec<String>, TemplateError> {
        self.resources_of_type("AWS::Serverless::Function")
            .map(|(name, function)| {
                function
                    .get("Metadata")
                    .and_then(|m| m.get("BuildProperties"))
                    .and_then(|b| text(b, "Binary"))
                    .map(str::to_string)
                    .ok_or_else(|| TemplateError(format!("{name} has no Metadata.BuildProperties.Binary")))
            })
            .collect()
    }

    pub fn routes(&self) -> Result<Vec<Route>, TemplateError> {
        let mut routes = Vec::new();
        for (name, function) in self.resources_of_type("AWS::Serverless::Function") {
            let binary = function
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| text(b, "Binary"))
                .ok_or_else(|| TemplateError(format!("{name} has no Metadata.BuildProperties.Binary")))?;
            let events = function.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping);
            for event in events.into_iter().flat_map(|e| e.values()) {
                if text(event, "Type") != Some("HttpApi") {
                    continue;
                }
                let props = event.get("Properties").ok_or_else(|| TemplateError(format!("{name}: event without Properties")))?;
                let field =
                    |key: &str| text(props, key).map(str::to_string).ok_or_else(|| TemplateError(format!("{name}: event without {key}")));
                let authorizer = props.get("Auth").and_then(|a| text(a, "Authorizer"));
                routes.push(Route {
                    method: field("Method")?.to_uppercase(),
                    path: field("Path")?,
                    binary: binary.to_string(),
                    authorized: authorizer != Some("NONE"),
                });
            }
        }
        routes.sort();
        Ok(routes)
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
        request.send().await?;
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

/// Matches a request path against a route path such as `/billing/limits/{resource}`;
/// returns the path parameters on a match.
pub fn match_path(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut segments = path.trim_end_matches('/').split('/');
    for part in pattern.split('/') {
        match (part.strip_prefix('{').and_then(|p| p.strip_suffix('}')), segments.next()) {
            (Some(name), Some(segment)) if name.ends_with('+') => {
                let rest: Vec<&str> = std::iter::once(segment).chain(segments.by_ref()).collect();
                params.push((name.trim_end_matches('+').to_string(), rest.join("/")));
            }
            (Some(name), Some(segment)) if !segment.is_empty() => params.push((name.to_string(), segment.to_string())),
            (None, Some(segment)) if segment == part => {}
            _ => return None,
        }
    }
    segments.next().is_none().then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_with_parameters() {
        assert_eq!(match_path("/billing", "/billing"), Some(vec![]));
        assert_eq!(match_path("/billing", "/billing/"), Some(vec![]));
        assert_eq!(match_path("/billing", "/billing/plans"), None);
        assert_eq!(match_path("/billing/plans", "/billing"), None);
        assert_eq!(match_path("/billing/limits/{resource}", "/billing/limits/agents"), Some(vec![("resource".into(), "agents".into())]));
        assert_eq!(match_path("/billing/limits/{resource}", "/billing/limits/"), None);
        assert_eq!(match_path("/a/{rest+}", "/a/b/c"), Some(vec![("rest".into(), "b/c".into())]));
    }

    #[test]
    fn template_declares_routes_and_one_table() {
        let template = Template::built_in();
        let routes = template.routes().unwrap();
        assert!(routes.iter().any(|r| r.method == "GET" && r.path == "/billing" && r.binary == "billing-summary" && r.authorized));
        assert!(routes.iter().any(|r| r.path == "$default" && !r.authorized));
        assert!(template.table().is_ok());
        assert!(template.binaries().unwrap().contains(&"authorizer".to_string()));
    }
}
