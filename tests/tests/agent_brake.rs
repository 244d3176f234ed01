//! The brake for runaway agents, through the local gateway and its authorizer against DynamoDB
//! Local: an AGENT key refused more than N times within a minute is paused for M minutes (every
//! route answers 429 `agent_paused` with `Retry-After`), other keys are not, a human resumes it
//! early, and each pause and resume is one event. Time is moved by counting refusals at an
//! earlier `now` through the use case, never waited for.

use billing_functions::{DEFAULT_ROUTE, ROUTES};
use billing_shared::billing::brake::count_refusal;
use billing_shared::domain::principal::{Principal, PrincipalKind};
use billing_shared::now;
use billing_tests::events::Pipeline;
use billing_tests::{Reply, TestApi, assert_envelope, json};

/// An org with a HUMAN key and two AGENT keys: (human token, (agent key id, token), other agent token).
async fn org(api: &TestApi, org_id: &str) -> (String, (String, String), String) {
    api.create_org(org_id).await;
    let human = api.issue_key(org_id, "owner", PrincipalKind::Human).await.1;
    let agent = api.issue_key(org_id, "assistant", PrincipalKind::Agent).await;
    let other = api.issue_key(org_id, "helper", PrincipalKind::Agent).await.1;
    (human, agent, other)
}

fn agent_principal(org_id: &str, key_id: &str) -> Principal {
    Principal { org_id: org_id.into(), principal_id: "assistant".into(), key_id: key_id.into(), kind: PrincipalKind::Agent }
}

async fn resume(api: &TestApi, key_id: &str, token: &str) -> Reply {
    api.post_json(&format!("/billing/agents/{key_id}/resume"), token, "").await
}

async fn patch_settings(api: &TestApi, token: &str, body: &str) -> Reply {
    api.patch_json("/billing/settings", token, body).await
}

fn retry_after(reply: &Reply) -> u64 {
    reply.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("a Retry-After header")
}

fn assert_paused(reply: &Reply, at_most: u64) {
    assert_envelope(reply, 429, "agent_paused");
    let wait = retry_after(reply);
    assert!((1..=at_most).contains(&wait), "Retry-After {wait}");
    assert_eq!(reply.body["details"]["retry_after"], wait);
}

/// Refusals are counted per minute: a test that counts many starts early in one.
async fn at_the_start_of_a_minute() {
    let second = now() % 60;
    if second > 40 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
}

/// A request to every keyed route of template.yaml, its path parameters filled in.
fn every_keyed_route() -> Vec<(String, String)> {
    ROUTES
        .iter()
        .filter(|r| r.authorized && r.path != DEFAULT_ROUTE)
        .map(|r| {
            let path = r
                .path
                .replace("{resource}", "agents")
                .replace("{id}", "ap_7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f")
                .replace("{session_id}", "cs_test_1")
                .replace("{key_id}", "0000000000000000")
                .replace("{mandate_id}", "md_00000000000000000000000000000000");
            (r.method.to_string(), path)
        })
        .collect()
}

#[tokio::test]
async fn the_brake_engages_at_n_plus_one_refusals_pauses_every_route_and_a_human_resumes_it() {
    let api = TestApi::new().await;
    let (human, (key_id, agent), other_agent) = org(&api, "acme").await;
    let mut pipeline = Pipeline::start(&api).await;
    at_the_start_of_a_minute().await;
    let reserve = || api.post_json("/billing/usage/agents/reserve", &agent, "");
    assert_eq!(reserve().await.status, 200, "the free plan's one agent");
    for _ in 0..20 {
        assert_envelope(&reserve().await, 402, "plan_limit_reached");
    }
    // Bad input is not a refusal the brake counts.
    assert_envelope(&api.post_json("/billing/usage/agents/reserve", &agent, r#"{"count":0}"#).await, 400, "validation_failed");
    assert_eq!(api.get("/billing", Some(&agent)).await.status, 200, "20 refusals (N) do not pause the key");
    assert_envelope(&reserve().await, 402, "plan_limit_reached");

    // The 21st refusal kept its own answer; from the next request on the key is paused.
    assert_paused(&api.get("/billing", Some(&agent)).await, 300);
    for (method, path) in every_keyed_route() {
        let req = http::Request::builder()
            .method(method.as_str())
            .uri(&path)
            .header("authorization", format!("Bearer {agent}"))
            .header("content-type", "application/json");
        let reply = api.request(req.body(b"{}".to_vec()).unwrap()).await;
        assert_eq!(reply.status, 429, "{method} {path}: {}", reply.body);
        assert_paused(&reply, 300);
    }
    assert_eq!(api.get("/billing", Some(&human)).await.status, 200, "the org's HUMAN key is not paused");
    assert_eq!(api.get("/billing", Some(&other_agent)).await.status, 200, "nor its other AGENT key");
    let item = api.raw_item(&format!("APIKEY#{key_id}"), "APIKEY").await.unwrap();
    assert_eq!(item["refusals"].as_n().unwrap(), "21", "a paused key's requests are not counted");

    let events = pipeline.deliver_details().await;
    let paused: Vec<_> = events.iter().filter(|(t, _)| t.starts_with("billing.agent_")).collect();
    assert_eq!(paused.len(), 1, "one event for one pause: {events:?}");
    let (kind, detail) = paused[0];
    assert_eq!(kind, "billing.agent_paused");
    assert_eq!(detail["data"]["key_id"], key_id.as_str());
    assert_eq!((detail["data"]["refusals"].as_i64(), detail["data"]["max_refusals_per_minute"].as_i64()), (Some(21), Some(20)));
    assert_eq!(detail["actor"], json!({"kind": "principal", "key_id": key_id, "principal_id": "assistant", "principal_kind": "AGENT"}));

    // An AGENT cannot lift its own pause (nor, paused, ask at all); a HUMAN can, once.
    assert_paused(&api.post_json(&format!("/billing/agents/{key_id}/resume"), &agent, "").await, 300);
    let resumed = api.post_json(&format!("/billing/agents/{key_id}/resume"), &human, "").await;
    assert_eq!((resumed.status, &resumed.body), (200, &json!({"key_id": key_id, "status": "resumed"})));
    assert_eq!(api.get("/billing", Some(&agent)).await.status, 200, "resumed at once");
    let again = api.post_json(&format!("/billing/agents/{key_id}/resume"), &human, "{}").await;
    assert_eq!((again.status, &again.body["status"]), (200, &json!("not_paused")), "resuming is idempotent");
    // The minute's count started over: 20 more refusals do not pause the key again.
    for _ in 0..20 {
        assert_envelope(&reserve().await, 402, "plan_limit_reached");
    }
    assert_eq!(api.get("/billing", Some(&agent)).await.status, 200);

    let events = pipeline.deliver_details().await;
    let resumed: Vec<_> = events.iter().filter(|(t, _)| t.starts_with("billing.agent_")).collect();
    assert_eq!(resumed.len(), 1, "{events:?}");
    assert_eq!(resumed[0].0, "billing.agent_resumed");
    assert_eq!(resumed[0].1["data"], json!({"key_id": key_id, "principal_id": "assistant"}));
    assert_eq!(resumed[0].1["actor"]["principal_id"], "owner");
}

#[tokio::test]
async fn a_pause_lasts_m_minutes_from_the_refusal_that_engaged_it() {
    let api = TestApi::new().await;
    let (human, (key_id, agent), _) = org(&api, "acme").await;
    let changed = patch_settings(&api, &human, r#"{"agent_brake":{"max_refusals_per_minute":5,"pause_minutes":2}}"#).await;
    assert_eq!(changed.body["agent_brake"], json!({"max_refusals_per_minute": 5, "pause_minutes": 2}));
    let principal = agent_principal("acme", &key_id);

    // Engaged 90 s ago (in a minute of its own): 30 s of the 2 minutes are left.
    let engaged = now() - 90;
    for _ in 0..5 {
        count_refusal(&api.app, &principal, 409, engaged).await;
    }
    assert_eq!(api.get("/billing", Some(&agent)).await.status, 200, "5 refusals (N) do not pause the key");
    count_refusal(&api.app, &principal, 409, engaged).await;
    assert_paused(&api.get("/billing", Some(&agent)).await, 30);

    // Engaged 2 minutes and a second ago: over.
    let (other_id, other) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let other_principal = agent_principal("acme", &other_id);
    for _ in 0..6 {
        count_refusal(&api.app, &other_principal, 429, now() - 121).await;
    }
    assert_eq!(api.get("/billing", Some(&other)).await.status, 200, "the pause lifted after M minutes");
    // Answers other than refusals are never counted.
    for status in [200, 400, 401, 403, 404, 500] {
        count_refusal(&api.app, &other_principal, status, now()).await;
    }
    let item = api.raw_item(&format!("APIKEY#{other_id}"), "APIKEY").await.unwrap();
    assert_eq!(item["refusals"].as_n().unwrap(), "6");
}

#[tokio::test]
async fn a_tool_s_refusal_over_mcp_counts_like_one_over_rest() {
    let api = TestApi::new().await;
    let (human, (_, agent), _) = org(&api, "acme").await;
    assert_eq!(patch_settings(&api, &human, r#"{"agent_brake":{"max_refusals_per_minute":5}}"#).await.status, 200);
    at_the_start_of_a_minute().await;
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"reserve_usage","arguments":{"resource":"agents"}}}"#;
    let mcp = || {
        let req = http::Request::builder()
            .method("POST")
            .uri("/mcp")
            .header("authorization", format!("Bearer {agent}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        api.request(req.body(call.as_bytes().to_vec()).unwrap())
    };
    assert_eq!(mcp().await.body["result"]["isError"], false);
    for _ in 0..6 {
        let refused = mcp().await;
        assert_eq!(refused.body["result"]["structuredContent"]["error"], "plan_limit_reached", "{}", refused.body);
    }
    assert_paused(&mcp().await, 300);
}

#[tokio::test]
async fn only_a_human_of_the_org_resumes_an_agent_or_changes_the_settings() {
    let api = TestApi::new().await;
    let (human, (key_id, agent), _) = org(&api, "acme").await;
    let (stranger, (stranger_agent_id, _), _) = org(&api, "globex").await;
    let (human_key_id, _) = api.issue_key("acme", "owner2", PrincipalKind::Human).await;
    let admin = api.issue_key("acme", "ops", PrincipalKind::Admin).await.1;

    assert_envelope(&resume(&api, &key_id, &agent).await, 403, "forbidden");
    assert_envelope(&resume(&api, &key_id, &stranger).await, 404, "not_found");
    assert_envelope(&resume(&api, &stranger_agent_id, &human).await, 404, "not_found");
    assert_envelope(&resume(&api, &human_key_id, &human).await, 404, "not_found");
    assert_envelope(&resume(&api, "0000000000000000", &human).await, 404, "not_found");
    assert_envelope(&resume(&api, "not-a-key", &human).await, 404, "not_found");
    assert_envelope(&api.post_json(&format!("/billing/agents/{key_id}/resume"), &human, r#"{"note":1}"#).await, 400, "validation_failed");
    assert_eq!(resume(&api, &key_id, &admin).await.body["status"], "not_paused");

    let defaults =
        json!({"agent_brake": {"max_refusals_per_minute": 20, "pause_minutes": 5}, "auto_top_up": null, "auto_top_ups_this_month": 0});
    let read = api.get("/billing/settings", Some(&agent)).await;
    assert_eq!((read.status, &read.body), (200, &defaults), "any key of the org reads the settings");
    assert_envelope(&patch_settings(&api, &agent, r#"{"agent_brake":{"max_refusals_per_minute":1000}}"#).await, 403, "forbidden");
    for bad in [
        r#"{"agent_brake":{"max_refusals_per_minute":4}}"#,
        r#"{"agent_brake":{"max_refusals_per_minute":50,"pause_minutes":0}}"#,
        r#"{"agent_brake":{"pause_minutes":1441}}"#,
        r#"{"agent_brake":{"max_refusals_per_minute":-1}}"#,
        r#"{"agent_brake":{"max_refusals_per_minute":20.5}}"#,
        r#"{"agent_brake":{"max_refusals_per_minute":"20"}}"#,
        r#"{"agent_brake":{"pause":3}}"#,
        r#"{"brake":{}}"#,
        "[]",
    ] {
        assert_envelope(&patch_settings(&api, &human, bad).await, 400, "validation_failed");
    }
    assert_envelope(&patch_settings(&api, &human, "{").await, 400, "malformed_json");
    assert!(api.raw_item("ORG#acme", "SETTINGS").await.is_none(), "a refused change writes nothing");
    assert_eq!(api.get("/billing/settings", Some(&human)).await.body, defaults);

    let changed = patch_settings(&api, &human, r#"{"agent_brake":{"pause_minutes":10.0}}"#).await;
    assert_eq!(changed.body["agent_brake"], json!({"max_refusals_per_minute": 20, "pause_minutes": 10}));
    let changed = patch_settings(&api, &admin, r#"{"agent_brake":{"max_refusals_per_minute":30}}"#).await;
    assert_eq!(changed.body["agent_brake"], json!({"max_refusals_per_minute": 30, "pause_minutes": 10}), "the other setting stays");
    assert_eq!(api.get("/billing/settings", Some(&stranger)).await.body, defaults, "another org's settings are its own");
}
