//! Test harness: a fresh table (from template.yaml) in DynamoDB Local per test, the local
//! gateway in front of the real handlers, and helpers to call it and read the table back.
//! `scripts/test` starts DynamoDB Local and moto and exports their endpoints.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use billing_functions::{DEFAULT_ROUTE, ROUTES, match_path};
use billing_infra::gateway::Gateway;
use billing_infra::template::Template;
use billing_shared::config::{Config, aws_sdk_config};
use billing_shared::domain::api_key as auth;
use billing_shared::domain::org::Org;
use billing_shared::domain::principal::PrincipalKind;
use billing_shared::{App, now};
use serde_json::Value;

pub use serde_json::json;

pub mod emf;
pub mod events;
pub mod faults;
pub mod logs;
pub mod process;
pub mod stripe;

static NEXT_TABLE: AtomicU32 = AtomicU32::new(0);

pub fn require_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with scripts/test"))
}

/// A unique table name for one test.
pub fn unique_table() -> String {
    format!("test-{}-{}-{}", std::process::id(), now(), NEXT_TABLE.fetch_add(1, Ordering::Relaxed))
}

pub fn test_config(table: &str) -> Config {
    test_config_with(table, &[])
}

/// The test configuration with `extra` variables on top (e.g. `CATALOG_FILE`).
pub fn test_config_with(table: &str, extra: &[(&str, &str)]) -> Config {
    let defaults = [
        ("BILLING_TABLE", table),
        ("ALLOWED_REDIRECT_ORIGINS", "https://app.example.com"),
        ("DEFAULT_SUCCESS_URL", "https://app.example.com/billing/done?session={CHECKOUT_SESSION_ID}"),
        ("DEFAULT_CANCEL_URL", "https://app.example.com/billing"),
        ("DEFAULT_RETURN_URL", "https://app.example.com/billing"),
    ];
    let lookup = |name: &str| extra.iter().chain(defaults.iter()).find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    Config::from_lookup(lookup).expect("test config")
}

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
    pub request_id: String,
}

pub struct TestApi {
    pub app: App,
    pub gateway: std::sync::Arc<Gateway>,
}

impl TestApi {
    /// A gateway over a fresh table created from template.yaml.
    pub async fn new() -> Self {
        require_env("AWS_ENDPOINT_URL_DYNAMODB");
        let table = unique_table();
        let app = App::new(test_config(&table), aws_sdk_config().await);
        Template::built_in().create_table(app.store.client(), &table).await.expect("create test table");
        Self::over(app)
    }

    /// A gateway over `app` as it is (e.g. pointing at a table that does not exist).
    pub fn over(app: App) -> Self {
        let gateway = std::sync::Arc::new(Gateway::new(app.clone()));
        Self { app, gateway }
    }

    /// Serves the gateway on a loopback port for as long as the test runs; its base URL.
    pub async fn serve_http(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(billing_infra::gateway::serve(self.gateway.clone(), listener, std::future::pending()));
        base
    }

    pub async fn create_org(&self, org_id: &str) -> Org {
        let org = Org::new(org_id, org_id, now());
        self.app.store.create_org(&org).await.expect("create org");
        org
    }

    pub async fn issue_key(&self, org_id: &str, principal_id: &str, kind: PrincipalKind) -> (String, String) {
        let key = auth::issue(org_id, principal_id, kind, now()).expect("issue key");
        self.app.store.put_api_key(&key.record, &auth::key_activity(&key.record, false, now())).await.expect("store key");
        (key.record.key_id, key.token)
    }

    /// An org with a HUMAN key: the token.
    pub async fn org_with_key(&self, org_id: &str) -> String {
        self.create_org(org_id).await;
        self.issue_key(org_id, "owner", PrincipalKind::Human).await.1
    }

    /// Serves `req`, and checks that the answer is one the OpenAPI document promises.
    pub async fn request(&self, req: http::Request<Vec<u8>>) -> Reply {
        let (method, path) = (req.method().to_string(), req.uri().path().to_string());
        let (parts, body) = req.into_parts();
        // Boxed: a test awaits many requests, and each request's future (the largest handler's,
        // some 20 KB in a debug build) would otherwise sit in the test's future on the thread's stack.
        let response = Box::pin(self.gateway.handle(http::Request::from_parts(parts, body.into()))).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let request_id = response.headers().get("apigw-requestid").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let is_html = headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
        let body = if response.body().is_empty() {
            Value::Null
        } else if is_html {
            // The approval page: its text.
            Value::String(String::from_utf8_lossy(response.body()).into_owned())
        } else {
            serde_json::from_slice(response.body()).unwrap_or_else(|_| panic!("not JSON: {:?}", response.body()))
        };
        assert_documented(&method, &path, status, &body);
        Reply { status, headers, body, request_id }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = http::Request::builder().method("GET").uri(path);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        self.request(req.body(Vec::new()).unwrap()).await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &str) -> Reply {
        self.post_json_with(path, token, body, &[]).await
    }

    /// `post_json` with extra headers (e.g. `Idempotency-Key`).
    pub async fn post_json_with(&self, path: &str, token: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = http::Request::builder()
            .method("POST")
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        self.request(req.body(body.as_bytes().to_vec()).unwrap()).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch_json(&self, path: &str, token: &str, body: &str) -> Reply {
        let req = http::Request::builder()
            .method("PATCH")
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        self.request(req.body(body.as_bytes().to_vec()).unwrap()).await
    }

    /// Changes the stored org with `edit` (a whole-org write, as the webhook does).
    pub async fn edit_org(&self, org_id: &str, edit: impl FnOnce(&mut Org)) -> Org {
        let mut org = self.app.store.get_org(org_id).await.expect("read org").expect("org exists");
        edit(&mut org);
        self.app.store.save_org(&mut org).await.expect("save org");
        org
    }

    /// The org item as stored, every attribute.
    pub async fn org_item(&self, org_id: &str) -> std::collections::HashMap<String, AttributeValue> {
        self.raw_item(&format!("ORG#{org_id}"), "ORG").await.expect("org item")
    }

    pub async fn raw_item(&self, pk: &str, sk: &str) -> Option<std::collections::HashMap<String, AttributeValue>> {
        let out = self
            .app
            .store
            .client()
            .get_item()
            .table_name(self.app.store.table())
            .key("PK", AttributeValue::S(pk.into()))
            .key("SK", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("get item");
        out.item
    }

    /// Items whose partition key starts with `prefix`.
    pub async fn items_with_pk_prefix(&self, prefix: &str) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        self.items()
            .await
            .into_iter()
            .filter(|i| i.get("PK").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with(prefix)))
            .collect()
    }

    /// Every item of the table, for asserting what a request wrote (or did not).
    pub async fn items(&self) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let out = self.app.store.client().scan().table_name(self.app.store.table()).send().await.expect("scan");
        let mut items = out.items.unwrap_or_default();
        items.sort_by_key(|i| format!("{:?}{:?}", i.get("PK"), i.get("SK")));
        items
    }
}

fn openapi() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::from_str(billing_shared::openapi::document_json()).expect("the OpenAPI document is JSON"))
}

/// Resolves a `$ref` of the OpenAPI document.
fn resolve(schema: &Value) -> &Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &openapi()["components"]["schemas"][name],
        None => schema,
    }
}

/// Whether `body`'s fields are an object schema's: every required one there, none unknown, and
/// those of an enum one of its values.
fn fits(schema: &Value, body: &Value) -> bool {
    let schema = resolve(schema);
    if let Some(variants) = schema["oneOf"].as_array() {
        return variants.iter().any(|variant| fits(variant, body));
    }
    let (Some(properties), Some(fields)) = (schema["properties"].as_object(), body.as_object()) else { return true };
    let required = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str);
    let in_enum =
        |(name, value): (&String, &Value)| resolve(&properties[name])["enum"].as_array().is_none_or(|values| values.contains(value));
    fields.keys().all(|k| properties.contains_key(k)) && required.into_iter().all(|k| fields.contains_key(k)) && fields.iter().all(in_enum)
}

/// Every answer of a route of the OpenAPI document must be one it lists: the status, for an
/// error its type under that status, for a success the fields of its schema.
fn assert_documented(method: &str, path: &str, status: u16, body: &Value) {
    let route = ROUTES.iter().find(|r| r.path != DEFAULT_ROUTE && r.method == method && match_path(r.path, path).is_some());
    let Some(route) = route else { return };
    let response = &openapi()["paths"][route.path][method.to_lowercase()]["responses"][status.to_string()];
    let content = &response["content"]["application/json"];
    assert!(response.is_object(), "{method} {path}: the OpenAPI document lists no {status} for {method} {}: {body}", route.path);
    match body["error"].as_str() {
        Some(error) => {
            let listed = content["examples"].get(error).is_some();
            assert!(listed, "{method} {path}: the OpenAPI document lists no `{error}` under {status} for {method} {}", route.path);
        }
        None => assert!(fits(&content["schema"], body), "{method} {path}: {status} body is not the documented schema: {body}"),
    }
}

/// Asserts the error envelope: status, type, a message, and the request id of the response.
pub fn assert_envelope(reply: &Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    assert_eq!(reply.body["error"], error, "body: {}", reply.body);
    assert!(reply.body["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {}", reply.body);
    assert_eq!(reply.body["request_id"], reply.request_id.as_str(), "body: {}", reply.body);
    assert!(!reply.request_id.is_empty());
}
