//! `GET /billing/limits`, reservations and releases: caps, the 402 answer field by field,
//! bad input, concurrency against DynamoDB Local, idempotency, downgrades, grace, overrides and
//! the `api_calls` period.

use aws_sdk_dynamodb::types::AttributeValue;
use billing_shared::billing::idempotency::IdempotencyKey;
use billing_shared::billing::limits::set_cap_override;
use billing_shared::billing::usage::{CountBody, Operation, count};
use billing_shared::domain::catalog::Resource;
use billing_shared::domain::org::SubscriptionStatus;
use billing_shared::domain::principal::{Principal, PrincipalKind};
use billing_shared::store::caps::stored_headroom;
use billing_shared::{App, now};
use billing_tests::{Reply, TestApi, assert_envelope, json, test_config};
use futures::future::join_all;
use serde_json::Value;

const GRACE: i64 = 7 * 86_400;

fn principal(org_id: &str) -> Principal {
    Principal { org_id: org_id.into(), principal_id: "owner".into(), key_id: "key_owner".into(), kind: PrincipalKind::Human }
}

async fn reserve(api: &TestApi, token: &str, resource: &str, body: &str) -> Reply {
    api.post_json(&format!("/billing/usage/{resource}/reserve"), token, body).await
}

async fn release(api: &TestApi, token: &str, resource: &str, body: &str) -> Reply {
    api.post_json(&format!("/billing/usage/{resource}/release"), token, body).await
}

async fn limit(api: &TestApi, token: &str, resource: &str) -> Value {
    let reply = api.get(&format!("/billing/limits/{resource}"), Some(token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// An org on an active paid plan, with a HUMAN key.
async fn paid_org(api: &TestApi, org_id: &str, plan: &str, quantity: u32) -> String {
    let token = api.org_with_key(org_id).await;
    api.edit_org(org_id, |org| {
        org.plan = plan.into();
        org.status = SubscriptionStatus::Active;
        org.interval = Some(billing_shared::domain::catalog::Interval::Month);
        org.quantity = quantity;
    })
    .await;
    token
}

/// The stored headroom agrees with the cap and the stored usage.
async fn assert_headroom_consistent(api: &TestApi, org_id: &str, resource: Resource, cap: u64) {
    let item = api.org_item(org_id).await;
    let org = api.app.store.get_org(org_id).await.unwrap().unwrap();
    let headroom = stored_headroom(&item, resource, now()).unwrap();
    assert_eq!(headroom, cap as i64 - org.usage_of(resource) as i64, "headroom of {resource:?}");
}

#[tokio::test]
async fn limits_list_every_resource_and_answer_one() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let reply = api.get("/billing/limits", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["plan"], "free");
    let limits = reply.body["limits"].as_array().unwrap();
    assert_eq!(limits.len(), Resource::ALL.len());
    assert_eq!(limits[0], json!({"resource": "agents", "active": 0, "cap": 1, "remaining": 1, "can_create": true, "over_cap": false}));
    let api_calls = limits.iter().find(|l| l["resource"] == "api_calls").unwrap();
    assert!(api_calls["resets_at"].as_i64().unwrap() > now());

    assert_eq!(limit(&api, &token, "agents").await, limits[0]);
    let reply = api.get("/billing/limits/unicorns", Some(&token)).await;
    assert_envelope(&reply, 404, "not_found");
    assert_eq!(reply.body["details"]["resource"], "unicorns");
    assert_eq!(reply.body["details"]["valid"], json!(["agents", "members", "workspaces", "rows", "api_calls", "webhooks", "servers"]));
    assert_envelope(&api.get("/billing/limits", None).await, 401, "unauthorized");
    assert_envelope(&api.get("/billing/limits?resource=agents", Some(&token)).await, 400, "validation_failed");
}

#[tokio::test]
async fn reserving_past_the_cap_is_402_with_the_next_step() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let reply = reserve(&api, &token, "agents", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, json!({"resource": "agents", "active": 1, "cap": 1, "remaining": 0, "reserved": 1}));
    let before = api.items().await;

    let reply = reserve(&api, &token, "agents", r#"{"count":1}"#).await;
    assert_envelope(&reply, 402, "plan_limit_reached");
    let details = &reply.body["details"];
    assert_eq!(details.as_object().unwrap().len(), 8, "{details}");
    assert_eq!(details["plan"], "free");
    assert_eq!(details["resource"], "agents");
    assert_eq!(details["active"], 1);
    assert_eq!(details["cap"], 1);
    assert_eq!(details["requested"], 1);
    assert_eq!(details["over_cap"], false);
    assert_eq!(details["upgrade"], json!({"api": "POST /billing/upgrade", "mcpTool": "upgrade_plan", "plan": "pro", "cap": 10}));
    assert_eq!(
        details["increase"],
        json!({"api": "POST /billing/request-limit-increase", "mcpTool": "request_limit_increase", "kind": "agents"})
    );
    let message = reply.body["message"].as_str().unwrap();
    assert!(message.contains("POST /billing/upgrade") && message.contains("POST /billing/request-limit-increase"), "{message}");
    // Nothing changes but the refusal's own report (billing.limit_reached, once a minute).
    let mut after = api.items().await;
    let reported = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
        item.get("type").and_then(|t| t.as_s().ok()).is_some_and(|t| t == "billing.limit_reached")
            || item["PK"].as_s().is_ok_and(|pk| pk.starts_with("ONCE#limit_reached#"))
    };
    assert_eq!(after.iter().filter(|item| reported(item)).count(), 2, "the report and its once-marker");
    after.retain(|item| !reported(item));
    assert_eq!(after, before, "a refused reservation changes nothing");

    // Servers: the per-server plan is the cheapest that fits 5, at quantity 5.
    let reply = reserve(&api, &token, "servers", r#"{"count":5}"#).await;
    assert_envelope(&reply, 402, "plan_limit_reached");
    assert_eq!(reply.body["details"]["requested"], 5);
    assert_eq!(
        reply.body["details"]["upgrade"],
        json!({"api": "POST /billing/upgrade", "mcpTool": "upgrade_plan", "plan": "scale", "cap": 5, "quantity": 5})
    );
    // Workspaces: no plan has 101, so the only next step is asking.
    let reply = reserve(&api, &token, "workspaces", r#"{"count":101}"#).await;
    assert_envelope(&reply, 402, "plan_limit_reached");
    assert_eq!(reply.body["details"]["upgrade"], Value::Null);
    assert_eq!(reply.body["details"]["increase"]["kind"], "workspaces");
    assert!(reply.body["message"].as_str().unwrap().contains("No plan change"));
}

#[tokio::test]
async fn bad_input_gets_its_4xx_envelope_and_changes_nothing() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let before = api.items().await;
    for (body, field) in [
        (r#"{"count":0}"#, "count"),
        (r#"{"count":1001}"#, "count"),
        (r#"{"count":-1}"#, "count"),
        (r#"{"count":"1"}"#, "count"),
        (r#"{"count":1.5}"#, "count"),
        (r#"{"count":1,"resource":"agents"}"#, "resource"),
        (r#"[1]"#, "(body)"),
    ] {
        for path in ["/billing/usage/agents/reserve", "/billing/usage/agents/release"] {
            let reply = api.post_json(path, &token, body).await;
            assert_envelope(&reply, 400, "validation_failed");
            assert_eq!(reply.body["details"]["fields"][0]["field"], field, "{path} {body}");
        }
    }
    assert_envelope(&reserve(&api, &token, "agents", "{count:1}").await, 400, "malformed_json");
    let reply = reserve(&api, &token, "unicorns", "{}").await;
    assert_envelope(&reply, 404, "not_found");
    assert_eq!(reply.body["details"]["valid"].as_array().unwrap().len(), 7);
    assert_envelope(&release(&api, &token, "unicorns", "{}").await, 404, "not_found");
    let reply = release(&api, &token, "api_calls", "{}").await;
    assert_envelope(&reply, 400, "validation_failed");
    assert_eq!(reply.body["details"]["fields"][0]["field"], "resource");
    for key in ["", "has space", "a,b", &"k".repeat(256)] {
        let reply = api.post_json_with("/billing/usage/agents/reserve", &token, "{}", &[("idempotency-key", key)]).await;
        assert_envelope(&reply, 400, "validation_failed");
        assert_eq!(reply.body["details"]["fields"][0]["field"], "Idempotency-Key", "{key:?}");
    }
    let req = http::Request::builder()
        .method("POST")
        .uri("/billing/usage/agents/reserve")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/plain")
        .body(b"count=1".to_vec())
        .unwrap();
    assert_envelope(&api.request(req).await, 415, "unsupported_media_type");
    assert_envelope(&api.get("/billing/usage/agents/reserve", Some(&token)).await, 405, "method_not_allowed");
    assert_eq!(api.items().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_reservations_for_ten_slots_give_exactly_ten() {
    let api = TestApi::new().await;
    let token = paid_org(&api, "acme", "pro", 1).await;
    let replies = join_all((0..50).map(|_| reserve(&api, &token, "agents", ""))).await;
    let ok: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 402).collect();
    assert_eq!((ok.len(), refused.len()), (10, 40), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let mut actives: Vec<i64> = ok.iter().map(|r| r.body["active"].as_i64().unwrap()).collect();
    actives.sort();
    assert_eq!(actives, (1..=10).collect::<Vec<_>>(), "each success saw its own slot");
    for reply in refused {
        assert_eq!(reply.body["error"], "plan_limit_reached");
        assert_eq!((reply.body["details"]["active"].as_i64(), reply.body["details"]["cap"].as_i64()), (Some(10), Some(10)));
    }
    assert_eq!(limit(&api, &token, "agents").await["active"], 10);
    assert_headroom_consistent(&api, "acme", Resource::Agents, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_concurrent_reserves_and_releases_stay_within_the_cap_and_add_up() {
    let api = TestApi::new().await;
    let token = paid_org(&api, "acme", "pro", 1).await;
    assert_eq!(reserve(&api, &token, "agents", r#"{"count":5}"#).await.status, 200);
    let calls = (0..50).map(|i| {
        let (api, token) = (&api, &token);
        async move {
            match i % 5 {
                0 | 1 => ("release", release(api, token, "agents", "").await),
                _ => ("reserve", reserve(api, token, "agents", "").await),
            }
        }
    });
    let replies = join_all(calls).await;
    let mut net: i64 = 5;
    for (op, reply) in &replies {
        match (*op, reply.status) {
            ("reserve", 200) => net += 1,
            ("release", 200) => net -= reply.body["released"].as_i64().unwrap(),
            ("reserve", 402) => assert_eq!(reply.body["details"]["cap"], 10),
            other => panic!("unexpected {other:?}: {}", reply.body),
        }
        if reply.status == 200 {
            let active = reply.body["active"].as_i64().unwrap();
            assert!((0..=10).contains(&active), "{}", reply.body);
        }
    }
    let stored = limit(&api, &token, "agents").await["active"].as_i64().unwrap();
    assert_eq!(stored, net, "every answered change is in the count, and nothing else");
    assert!(replies.iter().any(|(op, r)| *op == "reserve" && r.status == 200));
    assert_headroom_consistent(&api, "acme", Resource::Agents, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_counts_once_and_replays_the_first_answer() {
    let api = TestApi::new().await;
    let token = paid_org(&api, "acme", "pro", 1).await;
    let key = [("idempotency-key", "retry-1")];
    let first = api.post_json_with("/billing/usage/agents/reserve", &token, r#"{"count":2}"#, &key).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body, json!({"resource": "agents", "active": 2, "cap": 10, "remaining": 8, "reserved": 2}));
    assert!(first.headers.get("idempotent-replayed").is_none());
    // A plain reservation in between: the replay still answers what the first call did.
    assert_eq!(reserve(&api, &token, "agents", "").await.body["active"], 3);
    let retries = join_all((0..20).map(|_| api.post_json_with("/billing/usage/agents/reserve", &token, r#"{"count":2}"#, &key))).await;
    for retry in &retries {
        assert_eq!((retry.status, &retry.body), (200, &first.body));
        assert_eq!(retry.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    }
    assert_eq!(limit(&api, &token, "agents").await["active"], 3, "counted once");

    // Same key, another request: 422, nothing counted. `{}` and `{"count":1}` are one request.
    let reply = api.post_json_with("/billing/usage/agents/reserve", &token, r#"{"count":3}"#, &key).await;
    assert_envelope(&reply, 422, "idempotency_key_reused");
    let reply = api.post_json_with("/billing/usage/agents/release", &token, r#"{"count":2}"#, &key).await;
    assert_envelope(&reply, 422, "idempotency_key_reused");
    let one = [("idempotency-key", "one")];
    assert_eq!(api.post_json_with("/billing/usage/rows/reserve", &token, "{}", &one).await.body["active"], 1);
    assert_eq!(api.post_json_with("/billing/usage/rows/reserve", &token, r#"{"count":1}"#, &one).await.body["active"], 1);

    // Keys are per org: another org's same key is its own.
    let other = paid_org(&api, "other", "pro", 1).await;
    assert_eq!(api.post_json_with("/billing/usage/agents/reserve", &other, r#"{"count":2}"#, &key).await.body["active"], 2);

    // A keyed refusal is an answer too, replayed as it was.
    let full = [("idempotency-key", "too-many")];
    let refused = api.post_json_with("/billing/usage/agents/reserve", &token, r#"{"count":8}"#, &full).await;
    assert_envelope(&refused, 402, "plan_limit_reached");
    let again = api.post_json_with("/billing/usage/agents/reserve", &token, r#"{"count":8}"#, &full).await;
    assert_envelope(&again, 402, "plan_limit_reached");
    assert_eq!(again.body["details"], refused.body["details"]);
    assert_eq!(again.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));

    // A keyed release replays too, and never goes below 0.
    let rel = [("idempotency-key", "release-all")];
    let released = api.post_json_with("/billing/usage/agents/release", &token, r#"{"count":50}"#, &rel).await;
    assert_eq!((released.body["released"].as_i64(), released.body["active"].as_i64()), (Some(3), Some(0)), "{}", released.body);
    assert_eq!(api.post_json_with("/billing/usage/agents/release", &token, r#"{"count":50}"#, &rel).await.body, released.body);
    assert_headroom_consistent(&api, "acme", Resource::Agents, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_keyed_reservations_also_give_exactly_the_slots_left() {
    let api = TestApi::new().await;
    let token = paid_org(&api, "acme", "pro", 1).await;
    let keys: Vec<[(&str, String); 1]> = (0..30).map(|i| [("idempotency-key", format!("agent-{i}"))]).collect();
    let headers: Vec<[(&str, &str); 1]> = keys.iter().map(|[(name, value)]| [(*name, value.as_str())]).collect();
    let replies = join_all(headers.iter().map(|h| api.post_json_with("/billing/usage/agents/reserve", &token, "{}", h))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 402).count(), 20, "{statuses:?}");
    assert_eq!(limit(&api, &token, "agents").await["active"], 10);
    assert_headroom_consistent(&api, "acme", Resource::Agents, 10).await;
}

#[tokio::test]
async fn a_failed_keyed_call_leaves_its_key_unclaimed() {
    let api = TestApi::new().await;
    let token = paid_org(&api, "acme", "pro", 1).await;
    let client = api.app.store.client();
    let key = ("PK".to_string(), AttributeValue::S("ORG#acme".into()));
    let sk = ("SK".to_string(), AttributeValue::S("ORG".into()));
    let headroom = api.org_item("acme").await["headroom"].clone();
    // A stored item the update cannot apply to: DynamoDB refuses the whole transaction.
    let set_headroom = |value: AttributeValue| {
        client
            .update_item()
            .table_name(api.app.store.table())
            .key(key.0.clone(), key.1.clone())
            .key(sk.0.clone(), sk.1.clone())
            .update_expression("SET headroom = :h")
            .expression_attribute_values(":h", value)
            .send()
    };
    set_headroom(AttributeValue::S("broken".into())).await.unwrap();
    let header = [("idempotency-key", "after-outage")];
    let reply = api.post_json_with("/billing/usage/agents/reserve", &token, "{}", &header).await;
    assert_envelope(&reply, 503, "storage_unavailable");
    assert!(api.items_with_pk_prefix("IDEM#").await.is_empty(), "no answer stored for a failed call");
    assert_eq!(api.app.store.get_org("acme").await.unwrap().unwrap().usage_of(Resource::Agents), 0);

    set_headroom(headroom).await.unwrap();
    let reply = api.post_json_with("/billing/usage/agents/reserve", &token, "{}", &header).await;
    assert_eq!((reply.status, reply.body["active"].as_i64()), (200, Some(1)), "{}", reply.body);
    let replay = api.post_json_with("/billing/usage/agents/reserve", &token, "{}", &header).await;
    assert_eq!(replay.body, reply.body);
    assert_eq!(limit(&api, &token, "agents").await["active"], 1);
}

#[tokio::test]
async fn after_a_downgrade_an_org_over_its_cap_keeps_everything_but_cannot_reserve() {
    let api = TestApi::new().await;
    let token = paid_org(&api, "acme", "pro", 1).await;
    assert_eq!(reserve(&api, &token, "agents", r#"{"count":5}"#).await.status, 200);
    api.edit_org("acme", |org| {
        org.plan = "free".into();
        org.status = SubscriptionStatus::Canceled;
        org.interval = None;
    })
    .await;
    let agents = limit(&api, &token, "agents").await;
    assert_eq!(agents, json!({"resource": "agents", "active": 5, "cap": 1, "remaining": 0, "can_create": false, "over_cap": true}));
    let billing = api.get("/billing", Some(&token)).await.body;
    assert_eq!(billing["limits"][0], json!({"resource": "agents", "active": 5, "cap": 1}));

    let reply = reserve(&api, &token, "agents", "").await;
    assert_envelope(&reply, 402, "plan_limit_reached");
    assert_eq!((reply.body["details"]["over_cap"].as_bool(), reply.body["details"]["active"].as_i64()), (Some(true), Some(5)));
    assert_eq!(reply.body["details"]["upgrade"]["plan"], "pro");
    assert_eq!(release(&api, &token, "agents", r#"{"count":4}"#).await.body["active"], 1);
    assert_envelope(&reserve(&api, &token, "agents", "").await, 402, "plan_limit_reached");
    let reply = release(&api, &token, "agents", r#"{"count":3}"#).await;
    assert_eq!((reply.body["released"].as_i64(), reply.body["active"].as_i64()), (Some(1), Some(0)), "never below 0");
    let reply = release(&api, &token, "agents", "").await;
    assert_eq!((reply.status, reply.body["released"].as_i64()), (200, Some(0)));
    assert_eq!(reserve(&api, &token, "agents", "").await.status, 200);
    assert_headroom_consistent(&api, "acme", Resource::Agents, 1).await;
}

#[tokio::test]
async fn past_due_keeps_paid_caps_until_the_grace_period_ends_without_a_write() {
    let api = TestApi::new().await;
    let token = paid_org(&api, "acme", "pro", 1).await;
    let since = now() - 86_400;
    api.edit_org("acme", |org| {
        org.status = SubscriptionStatus::PastDue;
        org.past_due_since = Some(since);
    })
    .await;
    assert_eq!(limit(&api, &token, "agents").await["cap"], 10, "within grace");
    let (body, owner) = (CountBody { count: Some(1) }, principal("acme"));
    let at = |t: i64| count(&api.app, &owner, Operation::Reserve, "agents", &body, None, t);
    let answer = at(since + GRACE - 1).await.unwrap();
    assert_eq!(answer.result.unwrap()["cap"], 10);
    // The moment grace ends the free caps apply: the materialised schedule says so by itself.
    let err = at(since + GRACE).await.unwrap().result.unwrap_err();
    assert_eq!(err.status(), 402);
    let details = err.details.unwrap();
    assert_eq!((details["plan"].as_str(), details["cap"].as_i64(), details["active"].as_i64()), (Some("free"), Some(1), Some(1)));

    // Beyond grace already: the summary, limits and reserve agree on free caps.
    api.edit_org("acme", |org| org.past_due_since = Some(now() - 30 * 86_400)).await;
    assert_eq!(api.get("/billing", Some(&token)).await.body["effective_plan"], "free");
    assert_eq!(limit(&api, &token, "agents").await["cap"], 1);
    assert_envelope(&reserve(&api, &token, "agents", "").await, 402, "plan_limit_reached");
}

#[tokio::test]
async fn per_server_plans_cap_servers_by_quantity_and_design_partners_get_scale_at_no_charge() {
    let api = TestApi::new().await;
    let token = paid_org(&api, "acme", "scale", 3).await;
    assert_eq!(reserve(&api, &token, "servers", r#"{"count":3}"#).await.body["remaining"], 0);
    let reply = reserve(&api, &token, "servers", "").await;
    assert_envelope(&reply, 402, "plan_limit_reached");
    assert_eq!(reply.body["details"]["plan"], "scale");
    assert_eq!(
        reply.body["details"]["upgrade"],
        json!({"api": "POST /billing/upgrade", "mcpTool": "upgrade_plan", "plan": "scale", "cap": 4, "quantity": 4})
    );
    let reply = reserve(&api, &token, "agents", r#"{"count":1000}"#).await;
    assert_eq!((reply.status, &reply.body["cap"], &reply.body["remaining"]), (200, &Value::Null, &Value::Null), "unlimited");

    let partner = api.org_with_key("partner").await;
    api.edit_org("partner", |org| {
        org.plan = "pro".into();
        org.design_partner = true;
    })
    .await;
    let reply = reserve(&api, &partner, "agents", r#"{"count":11}"#).await;
    assert_eq!((reply.status, &reply.body["cap"]), (200, &Value::Null), "Scale's unlimited agents, past Pro's 10: {}", reply.body);
    let billing = api.get("/billing", Some(&partner)).await.body;
    assert_eq!((&billing["plan"], &billing["effective_plan"], &billing["price"]["amount"]), (&json!("scale"), &json!("scale"), &json!(0)));
    assert_eq!(limit(&api, &partner, "workspaces").await["cap"], 100);
}

#[tokio::test]
async fn cap_overrides_are_honoured_by_billing_limits_and_reserve() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let status = set_cap_override(&api.app, "acme", Resource::Agents, Some(Some(3)), now()).await.unwrap();
    assert_eq!((status.cap, status.remaining), (Some(3), Some(3)));
    assert_eq!(api.get("/billing", Some(&token)).await.body["cap_overrides"], json!({"agents": 3}));
    assert_eq!(limit(&api, &token, "agents").await["cap"], 3);
    assert_eq!(reserve(&api, &token, "agents", r#"{"count":3}"#).await.body["active"], 3);
    let reply = reserve(&api, &token, "agents", "").await;
    assert_envelope(&reply, 402, "plan_limit_reached");
    assert_eq!(reply.body["details"]["cap"], 3);
    assert_eq!(reply.body["details"]["upgrade"], Value::Null, "a plan change does not move an overridden cap");

    set_cap_override(&api.app, "acme", Resource::Agents, Some(None), now()).await.unwrap();
    assert_eq!(reserve(&api, &token, "agents", r#"{"count":100}"#).await.body["cap"], Value::Null);
    set_cap_override(&api.app, "acme", Resource::Agents, None, now()).await.unwrap();
    let agents = limit(&api, &token, "agents").await;
    assert_eq!((agents["cap"].as_i64(), agents["over_cap"].as_bool()), (Some(1), Some(true)));
    assert!(api.get("/billing", Some(&token)).await.body.get("cap_overrides").is_none());
    assert!(set_cap_override(&api.app, "nobody", Resource::Agents, None, now()).await.is_err());
}

#[tokio::test]
async fn api_calls_count_per_period_and_start_again_when_it_ends() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    assert_eq!(reserve(&api, &token, "api_calls", r#"{"count":7}"#).await.body["active"], 7);
    // The period ends (as if a month passed): the count reads as 0 and the next call starts anew.
    api.app
        .store
        .client()
        .update_item()
        .table_name(api.app.store.table())
        .key("PK", AttributeValue::S("ORG#acme".into()))
        .key("SK", AttributeValue::S("ORG".into()))
        .update_expression("SET usage_period_end = :past")
        .expression_attribute_values(":past", AttributeValue::N((now() - 1).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(limit(&api, &token, "api_calls").await["active"], 0);
    let reply = reserve(&api, &token, "api_calls", r#"{"count":2}"#).await;
    assert_eq!((reply.status, reply.body["active"].as_i64()), (200, Some(2)), "{}", reply.body);
    let org = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert!(org.usage_period_end.unwrap() > now());
    assert_headroom_consistent(&api, "acme", Resource::ApiCalls, 10_000).await;
}

#[tokio::test]
async fn whole_org_writes_keep_reservations_made_since_their_read() {
    let api = TestApi::new().await;
    let token = paid_org(&api, "acme", "pro", 1).await;
    assert_eq!(reserve(&api, &token, "agents", r#"{"count":3}"#).await.status, 200);
    let mut stale = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!(reserve(&api, &token, "agents", r#"{"count":2}"#).await.status, 200);
    stale.credits = 42;
    api.app.store.save_org(&mut stale).await.expect("a reservation does not bump the version");
    let org = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!((org.usage_of(Resource::Agents), org.credits), (5, 42));
    assert_headroom_consistent(&api, "acme", Resource::Agents, 10).await;
}

#[tokio::test]
async fn caps_made_under_other_rules_are_refreshed_before_a_reservation() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    // As if an older deployment (another catalog) had written the caps: everything refused.
    api.app
        .store
        .client()
        .update_item()
        .table_name(api.app.store.table())
        .key("PK", AttributeValue::S("ORG#acme".into()))
        .key("SK", AttributeValue::S("ORG".into()))
        .update_expression("SET caps_rules = :old, headroom.agents = :none")
        .expression_attribute_values(":old", AttributeValue::S("older".into()))
        .expression_attribute_values(":none", AttributeValue::N("-100".into()))
        .send()
        .await
        .unwrap();
    let reply = reserve(&api, &token, "agents", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let item = api.org_item("acme").await;
    assert_eq!(item["caps_rules"], AttributeValue::S(api.app.store.rules().fingerprint.clone()));
    assert_headroom_consistent(&api, "acme", Resource::Agents, 1).await;
}

#[tokio::test]
async fn storage_failure_is_503_and_missing_keys_401() {
    let api = TestApi::over(App::new(test_config("no-such-table"), billing_shared::config::aws_sdk_config().await));
    let token = billing_shared::domain::api_key::issue("acme", "alice", PrincipalKind::Human, now()).unwrap().token;
    assert_envelope(&reserve(&api, &token, "agents", "").await, 503, "storage_unavailable");
    let healthy = TestApi::new().await;
    assert_envelope(&healthy.post_json("/billing/usage/agents/reserve", "bk_nope", "{}").await, 401, "unauthorized");
    assert!(IdempotencyKey::parse("ok").is_ok());
}
