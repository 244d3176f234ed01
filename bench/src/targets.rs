//! What gets measured: the floor, then every function binary of template.yaml with the event
//! it would get in AWS and the answer that proves the event took the real path (a 401 or a
//! crash would be a fast path, not a measurement). A function the harness has no event for
//! yet is kept with the reason, so the report lists it as not measured.

use std::path::Path;
use std::time::Duration;

use billing_functions::{BINARIES, DEFAULT_ROUTE, ROUTES, Route};
use billing_infra::template::{TEMPLATE, TemplateError};
use billing_shared::domain::principal::PrincipalKind;
use billing_shared::http::{CTX_KEY_ID, CTX_KIND, CTX_ORG_ID, CTX_PRINCIPAL_ID};
use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::events::{self, Body, Request};
use crate::seed::{AGENT_PRINCIPAL_ID, CREDITS_CHECKOUT, Fixture, SUBSCRIPTION_CHECKOUT};

pub const FLOOR: &str = "floor";
/// The floor's code making the calls the writing functions must make (`FLOOR_CALLS`): what
/// those calls cost by themselves on this DynamoDB. Measured beside the functions, not judged.
pub const REFERENCES: [(&str, &str, &str); 3] = [
    ("floor-write", "update", "GET /floor (one conditional UpdateItem of the org item, returning it)"),
    (
        "floor-transact",
        "get-transact",
        "GET /floor (a GetItem of the org item, then a TransactWriteItems: the org item if unchanged, and a new item)",
    ),
    (
        "floor-batch-transact",
        "batch-transact",
        "GET /floor (a BatchGetItem of the org item and a counter item, then a TransactWriteItems: the org item if unchanged, a new item, and the counter counted below its bound)",
    ),
];

/// The floor with the functions' metrics (`bench/src/bin/floor_metrics.rs`): beside the floor,
/// what metrics cost a request.
pub const METRICS_FLOOR: &str = "floor-metrics";
/// A second measurement of a function, with another principal: its row's name, then the
/// function it runs.
pub const AGENT_SPEND: (&str, &str) = ("credits-spend:agent", "credits-spend");

/// The function the table's stream feeds: measured per batch of template.yaml's `BatchSize`.
pub const PUBLISHER: &str = "events-publisher";

/// The floor or one of its references.
pub fn is_floor(binary: &str) -> bool {
    binary == FLOOR || binary == METRICS_FLOOR || REFERENCES.iter().any(|(name, ..)| *name == binary)
}

pub struct Target {
    pub binary: String,
    /// What it is asked, e.g. `GET /billing`.
    pub request: String,
    /// The brief's cap on DynamoDB calls per request, where it sets one.
    pub dynamo_budget: Option<u64>,
    /// How to run it, or why it is not measured.
    pub plan: Result<Plan, String>,
}

pub struct Plan {
    /// The host release binary.
    pub program: std::path::PathBuf,
    /// Environment on top of the common Lambda and project environment.
    pub env: Vec<(String, String)>,
    pub event: Bytes,
    pub expect: Expect,
}

/// The answer that shows the request went the way a real one does.
pub enum Expect {
    /// An HTTP API response with this status.
    Status(u16),
    /// An authorizer decision letting the request through as a principal of this org.
    Authorized { org_id: String },
    /// A stream batch answered with no record to deliver again.
    Published,
}

impl Expect {
    pub fn check(&self, payload: &[u8]) -> Result<(), String> {
        let answer: Value = serde_json::from_slice(payload).map_err(|e| format!("response is not JSON: {e}"))?;
        let ok = match self {
            Expect::Status(status) => answer["statusCode"] == json!(status),
            Expect::Authorized { org_id } => answer["isAuthorized"] == json!(true) && answer["context"][CTX_ORG_ID] == json!(org_id),
            Expect::Published => answer["batchItemFailures"].as_array().is_some_and(Vec::is_empty),
        };
        ok.then_some(()).ok_or_else(|| format!("unexpected answer: {}", String::from_utf8_lossy(payload)))
    }
}

fn route_key(route: &Route) -> String {
    if route.path == DEFAULT_ROUTE { DEFAULT_ROUTE.to_string() } else { format!("{} {}", route.method, route.path) }
}

/// The body (and headers) of the routes that need one: valid requests, for the seeded org.
fn sample_body(route_key: &str, fixture: &Fixture) -> Option<Body> {
    let json = |text: &str| Some(Body { text: text.to_string(), headers: Vec::new() });
    match route_key {
        "POST /billing/checkout" => json(SUBSCRIPTION_CHECKOUT),
        "POST /billing/credits/checkout" => json(CREDITS_CHECKOUT),
        // The return URL is the DEFAULT_RETURN_URL setting.
        "POST /billing/portal" => json("{}"),
        // The seeded org has no subscription: the upgrade is its open Checkout again.
        "POST /billing/upgrade" => json(SUBSCRIPTION_CHECKOUT),
        // ...and a downgrade of a free org is `already-free`.
        "POST /billing/downgrade" => json("{}"),
        // ...its trial cannot end (`not_trialing`), nor take a code (no subscription): each
        // refused after the org's read, before any Stripe call.
        "POST /billing/trial/end" => json("{}"),
        "POST /billing/promotion-code" => json(r#"{"promotion_code":"LAUNCH20"}"#),
        // Plain (no Idempotency-Key): the one-conditional-write path. `rows` has room for
        // every repeat on the free plan; a release with nothing held still answers 200.
        "POST /billing/usage/{resource}/reserve" | "POST /billing/usage/{resource}/release" => json(r#"{"count":1}"#),
        // The seeded org holds enough credits for every repeat.
        "POST /billing/credits/spend" => json(r#"{"amount":1,"reason":"bench"}"#),
        // Repeats within a minute are a burst: counted on the first signal.
        "POST /billing/request-limit-increase" => json(r#"{"kind":"rows","desiredValue":20000,"reason":"bench"}"#),
        // Approve, deny and resume take no fields.
        "POST /billing/approvals/{id}/approve" | "POST /billing/approvals/{id}/deny" | "POST /billing/agents/{key_id}/resume" => json("{}"),
        // The same setting every repeat: one conditional write.
        "PATCH /billing/settings" => json(r#"{"agent_brake":{"pause_minutes":5}}"#),
        // The agent holds an active mandate: every grant is refused after the key's read and
        // the conditional write.
        "POST /billing/mandates" => Some(Body {
            text: json!({ "agent_key_id": fixture.agent_key_id, "limits": { "max_plan": "pro" }, "expires_at": (billing_shared::now() + 30 * 86_400).to_string() }).to_string(),
            headers: Vec::new(),
        }),
        // MCP: a cap check ("can I create one more row?") as an agent's client sends it.
        "POST /mcp" => Some(Body {
            text: r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_limits","arguments":{"resource":"rows"}}}"#
                .to_string(),
            headers: vec![("accept", "application/json, text/event-stream".to_string())],
        }),
        "POST /stripe/webhook" => {
            let (payload, signature) = fixture.webhook.clone();
            Some(Body { text: payload, headers: vec![("stripe-signature", signature)] })
        }
        _ => None,
    }
}

/// Values for the path parameters the harness knows.
fn sample_parameter(route_key: &str, name: &str, fixture: &Fixture) -> Option<String> {
    match name {
        "session_id" => Some(fixture.checkout_session_id.clone()),
        "resource" => Some("rows".to_string()),
        // Every repeat of a decision must find the same state: a decided approval, told so.
        "id" if route_key.ends_with("/approve") || route_key.ends_with("/deny") => Some(fixture.denied_approval.clone()),
        "id" => Some(fixture.pending_approval.clone()),
        "key_id" => Some(fixture.agent_key_id.clone()),
        "mandate_id" => Some(fixture.revoked_mandate.clone()),
        _ => None,
    }
}

/// The status that shows a request took its real path.
fn expected_status(route_key: &str) -> u16 {
    match route_key {
        DEFAULT_ROUTE => 404,
        // The seeded approval was denied: the decision is refused after its full check.
        key if key.ends_with("/approve") || key.ends_with("/deny") => 409,
        "POST /billing/mandates" | "POST /billing/trial/end" | "POST /billing/promotion-code" => 409,
        _ => 200,
    }
}

/// A request `route` serves, if the harness can make one up.
fn request(route: &Route, fixture: &Fixture) -> Result<Request, String> {
    let route_key = route_key(route);
    let method = if route.method == "ANY" { "GET".to_string() } else { route.method.to_string() };
    let body = sample_body(&route_key, fixture);
    if body.is_none() && matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        return Err(format!("{route_key} needs a request body; the harness has none for it yet (`sample_body`)"));
    }
    if route.path == DEFAULT_ROUTE {
        return Ok(Request { method, path: "/bench/no-such-route".to_string(), route_key, path_parameters: Vec::new(), body });
    }
    let mut path_parameters = Vec::new();
    let mut segments = Vec::new();
    for segment in route.path.split('/') {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let value = sample_parameter(&route_key, name, fixture)
                    .ok_or_else(|| format!("{route_key}: no sample value for path parameter {segment} yet (`sample_parameter`)"))?;
                segments.push(value.clone());
                path_parameters.push((name.to_string(), value));
            }
            None => segments.push(segment.to_string()),
        }
    }
    Ok(Request { method, path: segments.join("/"), route_key, path_parameters, body })
}

fn template_yaml() -> Result<serde_yaml::Value, TemplateError> {
    serde_yaml::from_str(TEMPLATE).map_err(|e| TemplateError(e.to_string()))
}

/// template.yaml's `Globals.Function` `MemorySize` (MB) and `Timeout`, which every function has.
pub fn function_globals() -> Result<(u64, Duration), TemplateError> {
    let root = template_yaml()?;
    let function = root.get("Globals").and_then(|g| g.get("Function"));
    let number = |key: &str| {
        function.and_then(|f| f.get(key)?.as_u64()).ok_or_else(|| TemplateError(format!("Globals.Function.{key} is not a number")))
    };
    Ok((number("MemorySize")?, Duration::from_secs(number("Timeout")?)))
}

/// The `BatchSize` of the publisher's stream event in template.yaml.
pub fn publisher_batch_size() -> Result<usize, TemplateError> {
    let root = template_yaml()?;
    let resources = root.get("Resources").and_then(|r| r.as_mapping()).ok_or_else(|| TemplateError("no Resources".into()))?;
    let size = resources
        .values()
        .filter(|r| r.get("Metadata").and_then(|m| m.get("BuildProperties")?.get("Binary")?.as_str()) == Some(PUBLISHER))
        .filter_map(|r| r.get("Properties")?.get("Events")?.as_mapping())
        .flat_map(|events| events.values())
        .find_map(|event| event.get("Properties")?.get("BatchSize")?.as_u64());
    size.map(|n| n as usize).ok_or_else(|| TemplateError(format!("{PUBLISHER} has no stream event with a BatchSize")))
}

/// The publisher's stream batch and settings, when the harness has a bus and records for it.
fn publisher_plan(bin_dir: &Path, fixture: &Fixture, batch: usize) -> Result<Plan, String> {
    let bus = fixture.event_bus.clone().ok_or("no event bus: AWS_ENDPOINT_URL_EVENTBRIDGE (moto) is not set")?;
    if fixture.activity_items.is_empty() {
        return Err("the seeded org has no activity records to stream".into());
    }
    let mut env = vec![("EVENT_BUS_NAME".to_string(), bus)];
    env.extend(std::env::var("AWS_ENDPOINT_URL_EVENTBRIDGE").ok().map(|url| ("AWS_ENDPOINT_URL_EVENTBRIDGE".to_string(), url)));
    plan(bin_dir, PUBLISHER, events::stream(&fixture.activity_items, batch), Expect::Published, env)
}

/// The binaries template.yaml names as the HTTP API's Lambda authorizer
/// (`FunctionArn: !GetAtt X.Arn`).
fn authorizer_binaries() -> Result<Vec<String>, TemplateError> {
    let root = template_yaml()?;
    let untag = |v: &serde_yaml::Value| match v {
        serde_yaml::Value::Tagged(t) => t.value.as_str().map(str::to_string),
        other => other.as_str().map(str::to_string),
    };
    let resources = root.get("Resources").and_then(|r| r.as_mapping()).ok_or_else(|| TemplateError("no Resources".into()))?;
    let authorizers =
        resources.values().filter_map(|r| r.get("Properties")?.get("Auth")?.get("Authorizers")?.as_mapping()).flat_map(|m| m.values());
    let mut binaries = Vec::new();
    for authorizer in authorizers {
        let Some(function) = authorizer.get("FunctionArn").and_then(untag) else { continue };
        let function = function.trim_end_matches(".Arn");
        let binary = resources
            .get(function)
            .and_then(|f| f.get("Metadata")?.get("BuildProperties")?.get("Binary"))
            .and_then(untag)
            .ok_or_else(|| TemplateError(format!("authorizer {function} has no Metadata.BuildProperties.Binary")))?;
        binaries.push(binary);
    }
    Ok(binaries)
}

fn plan(bin_dir: &Path, binary: &str, event: Value, expect: Expect, env: Vec<(String, String)>) -> Result<Plan, String> {
    let program = bin_dir.join(binary);
    if !program.is_file() {
        return Err(format!("no host release binary `{binary}` was built"));
    }
    Ok(Plan { program, env, event: Bytes::from(event.to_string()), expect })
}

/// The floor first, then each function of template.yaml.
pub fn targets(fixture: &Fixture, bin_dir: &Path) -> Result<Vec<Target>, TemplateError> {
    let routes = ROUTES;
    let authorizers = authorizer_binaries()?;
    let p = &fixture.principal;
    let context = json!({ CTX_ORG_ID: p.org_id, CTX_PRINCIPAL_ID: p.principal_id, CTX_KEY_ID: p.key_id, CTX_KIND: p.kind });
    let floor_request =
        Request { method: "GET".into(), path: "/floor".into(), route_key: "GET /floor".into(), path_parameters: Vec::new(), body: None };
    let floor_env = vec![("FLOOR_PK".to_string(), fixture.org_item.0.clone()), ("FLOOR_SK".to_string(), fixture.org_item.1.clone())];
    let floor_event = events::http(&floor_request, &fixture.token);
    let mut targets = vec![Target {
        binary: FLOOR.to_string(),
        request: "GET /floor (one GetItem of the org item)".to_string(),
        dynamo_budget: None,
        plan: plan(bin_dir, FLOOR, floor_event.clone(), Expect::Status(200), floor_env.clone()),
    }];
    for (name, calls, request) in REFERENCES {
        let env = floor_env.iter().cloned().chain([("FLOOR_CALLS".to_string(), calls.to_string())]).collect();
        let plan = plan(bin_dir, FLOOR, floor_event.clone(), Expect::Status(200), env);
        targets.push(Target { binary: name.to_string(), request: request.to_string(), dynamo_budget: None, plan });
    }
    targets.push(Target {
        binary: METRICS_FLOOR.to_string(),
        request: "GET /floor (the floor's GetItem, with the functions' metrics)".to_string(),
        dynamo_budget: None,
        plan: plan(
            bin_dir,
            METRICS_FLOOR,
            events::authorized(floor_event.clone(), context.clone()),
            Expect::Status(200),
            floor_env.clone(),
        ),
    });
    let batch = publisher_batch_size()?;
    for binary in BINARIES.iter().map(|b| b.to_string()) {
        let target = if authorizers.contains(&binary) {
            let route = routes.iter().find(|r| r.authorized);
            let label = route.map_or("authorizer".to_string(), |r| format!("authorizer of {}", route_key(r)));
            let plan = route.ok_or_else(|| "no authorized route to authorize".to_string()).and_then(|route| {
                let event = events::authorizer(&request(route, fixture)?, &fixture.token);
                plan(bin_dir, &binary, event, Expect::Authorized { org_id: p.org_id.clone() }, Vec::new())
            });
            Target { binary, request: label, dynamo_budget: Some(1), plan }
        } else if let Some(route) = routes.iter().find(|r| r.binary == binary) {
            let key = route_key(route);
            let req = request(route, fixture);
            let label = match &req {
                Ok(req) if route.path == DEFAULT_ROUTE => format!("{} {} (route {key})", req.method, req.path),
                Ok(req) if !req.path_parameters.is_empty() => {
                    let names: Vec<&str> = req.path_parameters.iter().map(|(name, _)| name.as_str()).collect();
                    format!("{key} (seeded {})", names.join(", "))
                }
                _ => key.clone(),
            };
            let plan = req.and_then(|req| {
                let mut event = events::http(&req, &fixture.token);
                if route.authorized {
                    // The admin routes answer ADMIN principals only.
                    let mut context = context.clone();
                    if route.path.starts_with("/admin/") {
                        context[CTX_KIND] = json!(PrincipalKind::Admin);
                    }
                    event = events::authorized(event, context);
                }
                let expect = Expect::Status(expected_status(&key));
                plan(bin_dir, &binary, event, expect, Vec::new())
            });
            // The brief's "one round trip for GET /billing and a cap check"; the issue's for
            // reserve (plain) and limits; the cap check through MCP is the same read; a page of
            // the activity history is one Query.
            let one_read = [
                "GET /billing",
                "GET /billing/activity",
                "GET /billing/limits",
                "GET /billing/limits/{resource}",
                "POST /billing/usage/{resource}/reserve",
                "POST /mcp",
            ];
            let dynamo_budget = one_read.contains(&key.as_str()).then_some(1);
            Target { binary, request: label, dynamo_budget, plan }
        } else if binary == PUBLISHER {
            let request = format!("a stream batch of {batch} activity records, put on the bus in moto");
            Target { plan: publisher_plan(bin_dir, fixture, batch), binary, request, dynamo_budget: None }
        } else if binary == "reconciler" {
            let plan = Err("measured by scripts/bench-reconciler: BENCHMARKS-reconciler.md".to_string());
            Target { binary, request: "a scheduled run".to_string(), dynamo_budget: None, plan }
        } else {
            let plan = Err("neither the authorizer nor on an HttpApi route: no event for it yet".to_string());
            Target { binary, request: "-".to_string(), dynamo_budget: None, plan }
        };
        targets.push(target);
    }
    targets.push(agent_spend(fixture, bin_dir, &context));
    Ok(targets)
}

/// `credits-spend` asked by the AGENT key, whose mandate bounds its spends per day: what the
/// mandate's draw adds to a spend (one more item in the spend's transaction).
fn agent_spend(fixture: &Fixture, bin_dir: &Path, context: &Value) -> Target {
    let route = ROUTES.iter().find(|r| r.binary == AGENT_SPEND.1);
    let plan = route.ok_or_else(|| format!("no route of {} in template.yaml", AGENT_SPEND.1)).and_then(|route| {
        let mut context = context.clone();
        context[CTX_KEY_ID] = json!(fixture.agent_key_id);
        context[CTX_PRINCIPAL_ID] = json!(AGENT_PRINCIPAL_ID);
        context[CTX_KIND] = json!(PrincipalKind::Agent);
        let event = events::authorized(events::http(&request(route, fixture)?, &fixture.token), context);
        plan(bin_dir, AGENT_SPEND.1, event, Expect::Status(200), Vec::new())
    });
    let request = "POST /billing/credits/spend by the AGENT key, drawn from its mandate's `credits_spend_per_day`".to_string();
    Target { binary: AGENT_SPEND.0.to_string(), request, dynamo_budget: None, plan }
}
