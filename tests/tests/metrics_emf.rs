//! The metrics and logs of real function processes: each binary runs behind the Lambda Runtime
//! API emulator against DynamoDB Local and the Stripe stand-in, and everything it writes to
//! stdout is checked (`billing_tests::emf`): valid EMF documents and typed JSON log lines, each
//! carrying its invocation's Lambda request id and X-Ray trace id, and the metrics the action
//! should have counted. `scripts/test` builds the binaries before the tests.

use billing_bench::events::{self, Body, Request};
use billing_tests::emf::{self, Stdout, with_metric};
use billing_tests::process::{Function, Invocation};
use billing_tests::stripe::{StripeTestApi, WEBHOOK_SECRET};
use billing_tests::{TestApi, json};
use serde_json::Value;

const NAMESPACE: &str = "BillingTests";

async fn start(function: &str, api: &TestApi, stripe_base: &str) -> Function {
    let env = [("METRICS_NAMESPACE", NAMESPACE), ("STRIPE_WEBHOOK_SECRETS", WEBHOOK_SECRET)];
    Function::start(function, api.app.store.table(), stripe_base, &env).await
}

fn post(path: &str, route_key: &str, params: &[(&str, &str)], body: &str, headers: Vec<(&'static str, String)>) -> Request {
    Request {
        method: "POST".into(),
        path: path.into(),
        route_key: route_key.into(),
        path_parameters: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: Some(Body { text: body.into(), headers }),
    }
}

/// `req` as API Gateway hands it to the function once the authorizer let `token` through.
async fn authorized(api: &TestApi, req: &Request, token: &str) -> Value {
    let event = serde_json::from_value(events::authorizer(req, token)).expect("an authorizer event");
    let decision = billing_functions::authorizer::handle(&api.app, lambda_http::LambdaEvent::new(event, Default::default())).await;
    events::authorized(events::http(req, token), decision.context)
}

/// The HTTP answer's status and JSON body.
fn reply(invocation: &Invocation) -> (u64, Value) {
    let body = invocation.answer["body"].as_str().map_or(Value::Null, |b| serde_json::from_str(b).expect("a JSON body"));
    (invocation.answer["statusCode"].as_u64().expect("a status"), body)
}

/// Checks every line the invocation wrote and that each names the invocation: documents in
/// `NAMESPACE` with `function` and the two ids as properties, log lines with the ids in their span.
fn checked(function: &str, invocation: &Invocation) -> Stdout {
    let stdout = emf::read(&invocation.lines);
    for doc in &stdout.documents {
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE, "{doc}");
        assert_eq!(doc["function"], function, "{doc}");
        assert_eq!(
            (doc["lambda_request_id"].as_str(), doc["trace_id"].as_str()),
            (Some(&*invocation.request_id), Some(&*invocation.trace_id)),
            "{doc}"
        );
    }
    for line in &stdout.logs {
        let span = &line["span"];
        assert_eq!(
            (span["lambda_request_id"].as_str(), span["trace_id"].as_str()),
            (Some(&*invocation.request_id), Some(&*invocation.trace_id)),
            "{line}"
        );
    }
    stdout
}

/// The one document with metric `name` whose labels are `labels`; no other has the metric.
fn only<'a>(stdout: &'a Stdout, name: &str, labels: &[(&str, &str)]) -> &'a Value {
    let docs = with_metric(&stdout.documents, name);
    assert_eq!(docs.len(), 1, "one document with {name}: {:#?}", stdout.documents);
    for (label, value) in labels {
        assert_eq!(docs[0][*label], *value, "{name}'s {label}: {}", docs[0]);
    }
    docs[0]
}

#[tokio::test]
async fn a_reservation_refused_at_the_cap_counts_one_402_and_only_the_first_invocation_is_a_cold_start() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let mut function = start("usage-reserve", &api, "http://127.0.0.1:9/").await;
    let req = post("/billing/usage/agents/reserve", "POST /billing/usage/{resource}/reserve", &[("resource", "agents")], "{}", Vec::new());
    let event = authorized(&api, &req, &token).await;

    let first = function.invoke(&event).await;
    assert_eq!(reply(&first).0, 200, "Free holds one agent");
    let stdout = checked("usage-reserve", &first);
    assert_eq!(only(&stdout, "cold_start", &[])["cold_start"], 1);
    let requests = only(&stdout, "requests", &[("outcome", "2xx")]);
    assert_eq!((&requests["org_id"], &requests["principal_id"]), (&json!("acme"), &json!("owner")), "ids as properties");
    assert!(with_metric(&stdout.documents, "plan_limit_reached").is_empty());

    let second = function.invoke(&event).await;
    let (status, body) = reply(&second);
    assert_eq!((status, &body["error"]), (402, &json!("plan_limit_reached")), "{body}");
    let stdout = checked("usage-reserve", &second);
    let refused = only(&stdout, "plan_limit_reached", &[("resource", "agents"), ("plan", "free")]);
    assert_eq!((&refused["plan_limit_reached"], &refused["org_id"]), (&json!(1), &json!("acme")));
    only(&stdout, "requests", &[("outcome", "4xx")]);
    assert!(with_metric(&stdout.documents, "cold_start").is_empty(), "a warm invocation");
    assert!(stdout.logs.iter().any(|l| l["fields"]["message"] == "request done" && l["fields"]["status"] == 402));
}

#[tokio::test]
async fn an_upgrade_counts_its_plan_change_and_times_each_stripe_call() {
    let (api, human, _) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let mut function = start("billing-upgrade", &api, &api.standin.base_url()).await;
    let req = post("/billing/upgrade", "POST /billing/upgrade", &[], r#"{"plan":"scale"}"#, Vec::new());
    let upgrade = function.invoke(&authorized(&api, &req, &human).await).await;
    let (status, body) = reply(&upgrade);
    assert_eq!((status, &body["status"]), (200, &json!("switched")), "{body}");

    let stdout = checked("billing-upgrade", &upgrade);
    assert_eq!(only(&stdout, "plan_changed", &[("kind", "upgrade"), ("plan", "scale")])["plan_changed"], 1);
    let timed: Vec<&str> = with_metric(&stdout.documents, "stripe_call_latency").iter().filter_map(|d| d["operation"].as_str()).collect();
    for operation in ["retrieve_subscription", "preview_change", "change_subscription"] {
        assert!(timed.contains(&operation), "{operation} timed: {timed:?}");
    }
    for doc in with_metric(&stdout.documents, "stripe_call_latency") {
        let definition =
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().iter().find(|m| m["Name"] == "stripe_call_latency");
        assert_eq!(definition.unwrap()["Unit"], "Milliseconds", "{doc}");
        assert!(doc["stripe_call_latency"].as_array().unwrap().iter().all(|ms| ms.as_f64().unwrap() > 0.0), "{doc}");
    }
    assert!(with_metric(&stdout.documents, "stripe_errors").is_empty() && with_metric(&stdout.documents, "stripe_retries").is_empty());
}

#[tokio::test]
async fn webhook_deliveries_are_counted_by_outcome_and_a_completed_checkout_once() {
    let api = StripeTestApi::new().await; // the stand-in delivers nothing itself: the test does
    let token = api.org_with_key("acme").await;
    let checkout = api.post_json("/billing/checkout", &token, r#"{"plan":"pro","interval":"month"}"#).await;
    api.standin.pay_checkout(checkout.body["session_id"].as_str().unwrap()).await.unwrap();
    let completed = api.events_of("checkout.session.completed").remove(0);
    let mut function = start("stripe-webhook", &api, &api.standin.base_url()).await;
    let delivery = |secret: &str| {
        let signature = stripe_webhook::Webhook::generate_test_header(&completed, secret, None);
        events::http(&post("/stripe/webhook", "POST /stripe/webhook", &[], &completed, vec![("stripe-signature", signature)]), "")
    };

    let forged = function.invoke(&delivery("whsec_wrong")).await;
    assert_eq!(reply(&forged).0, 400);
    let stdout = checked("stripe-webhook", &forged);
    only(&stdout, "webhook_events", &[("outcome", "rejected")]);
    only(&stdout, "cold_start", &[]);

    let applied = function.invoke(&delivery(WEBHOOK_SECRET)).await;
    assert_eq!(reply(&applied).1["outcome"], "applied");
    let stdout = checked("stripe-webhook", &applied);
    assert_eq!(only(&stdout, "webhook_events", &[("outcome", "applied")])["org_id"], "acme", "the org found for the customer");
    only(&stdout, "checkout_completed", &[("kind", "subscription")]);

    let again = function.invoke(&delivery(WEBHOOK_SECRET)).await;
    assert_eq!(reply(&again).1["outcome"], "duplicate");
    let stdout = checked("stripe-webhook", &again);
    only(&stdout, "webhook_events", &[("outcome", "duplicate")]);
    assert!(with_metric(&stdout.documents, "checkout_completed").is_empty(), "completed once");
    assert!(with_metric(&stdout.documents, "cold_start").is_empty());
}

#[tokio::test]
async fn the_reconciler_logs_and_counts_inside_its_invocation() {
    let api = StripeTestApi::new().await;
    let mut function = start("reconciler", &api, &api.standin.base_url()).await;
    let run = function.invoke(&json!({})).await;
    assert_eq!(run.answer["events_seen"], 0, "{}", run.answer);

    let stdout = checked("reconciler", &run);
    only(&stdout, "stripe_call_latency", &[("operation", "list_events")]);
    assert!(stdout.logs.iter().any(|l| l["fields"]["message"] == "reconcile run done"), "{:#?}", stdout.logs);
}

#[tokio::test]
async fn an_mcp_tool_call_logs_and_counts_inside_its_invocation() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let mut function = start("mcp", &api, "http://127.0.0.1:9/").await;
    let call =
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"reserve_usage","arguments":{"resource":"agents","count":2}}}"#;
    let req = post("/mcp", "POST /mcp", &[], call, Vec::new());
    let refused = function.invoke(&authorized(&api, &req, &token).await).await;
    let (status, body) = reply(&refused);
    assert_eq!((status, &body["result"]["isError"]), (200, &json!(true)), "{body}");

    let stdout = checked("mcp", &refused);
    only(&stdout, "plan_limit_reached", &[("resource", "agents"), ("plan", "free")]);
    only(&stdout, "requests", &[("outcome", "2xx")]);
}
