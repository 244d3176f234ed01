//! `POST /billing/request-limit-increase` and the admin's aggregate (`GET /admin/limit-signals`).

use billing_shared::billing::limit_signals::{IncreaseBody, request_increase};
use billing_shared::domain::principal::{Principal, PrincipalKind};
use billing_shared::now;
use billing_tests::{Reply, TestApi, assert_envelope, json};

const PATH: &str = "/billing/request-limit-increase";

async fn ask(api: &TestApi, token: &str, body: &str) -> Reply {
    api.post_json(PATH, token, body).await
}

/// The stored signal items of a kind.
async fn stored(api: &TestApi, kind: &str) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    api.items_with_pk_prefix("SIGNALS").await.into_iter().filter(|item| text(item, "kind").as_deref() == Some(kind)).collect()
}

fn text(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

#[tokio::test]
async fn a_signal_is_recorded_with_the_orgs_standing_and_counted_per_kind() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    api.post_json("/billing/usage/agents/reserve", &token, "").await;
    let reply = ask(&api, &token, "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!((reply.body["status"].as_str(), reply.body["count_for_kind"].as_i64()), (Some("recorded"), Some(1)));
    assert!(reply.body["signal_id"].as_str().unwrap().starts_with("sig_"));
    let other = stored(&api, "other").await;
    assert_eq!(other.len(), 1, "no body: kind `other`");

    let reason = "x".repeat(10_000);
    let body = json!({"kind": "agents", "desiredValue": 50, "reason": reason}).to_string();
    let reply = ask(&api, &token, &body).await;
    assert_eq!((reply.status, reply.body["count_for_kind"].as_i64()), (200, Some(1)), "{}", reply.body);
    let signals = stored(&api, "agents").await;
    assert_eq!(signals.len(), 1);
    let signal = &signals[0];
    assert_eq!(text(signal, "signal_id").as_deref(), reply.body["signal_id"].as_str());
    assert_eq!(text(signal, "reason").unwrap().len(), 500, "a long reason is kept, cut to 500");
    assert_eq!((text(signal, "org_id").as_deref(), text(signal, "principal_id").as_deref()), (Some("acme"), Some("owner")));
    assert_eq!((text(signal, "plan").as_deref(), text(signal, "principal_kind").as_deref()), (Some("free"), Some("HUMAN")));
    let number = |name: &str| signal[name].as_n().unwrap().parse::<i64>().unwrap();
    assert_eq!((number("desired_value"), number("active"), number("cap")), (50, 1, 1));
    assert!(number("created_at") >= now() - 5);
}

#[tokio::test]
async fn a_burst_from_one_principal_is_counted_not_stored_again() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let first = ask(&api, &token, r#"{"kind":"rows","desiredValue":20000}"#).await;
    let mut last = first.body.clone();
    for n in 2..=5 {
        let reply = ask(&api, &token, r#"{"kind":"rows"}"#).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["count_for_kind"], n);
        assert_eq!(reply.body["signal_id"], first.body["signal_id"], "counted on the stored one");
        assert_eq!(reply.body["stored"], false);
        last = reply.body;
    }
    assert_eq!(last["count_for_kind"], 5);
    let signals = stored(&api, "rows").await;
    assert_eq!(signals.len(), 1, "one item for the burst");
    api.create_org("ops").await;
    let (_, admin) = api.issue_key("ops", "root", PrincipalKind::Admin).await;
    let rows = |report: &serde_json::Value| report["kinds"][0]["orgs"][0].clone();
    let report = api.get("/admin/limit-signals?kind=rows", Some(&admin)).await.body;
    assert_eq!((rows(&report)["requests"].as_i64(), rows(&report)["signals"].as_i64()), (Some(5), Some(1)), "{report}");

    // Another principal, and another kind, are their own.
    let (_, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let reply = ask(&api, &agent, r#"{"kind":"rows"}"#).await;
    assert_eq!((reply.body["count_for_kind"].as_i64(), reply.body["stored"].as_bool()), (Some(6), Some(true)));
    assert_eq!(ask(&api, &token, r#"{"kind":"agents"}"#).await.body["count_for_kind"], 1);
    assert_eq!(stored(&api, "rows").await.len(), 2);

    // A minute after the stored one, the same principal is stored again.
    let owner = Principal { org_id: "acme".into(), principal_id: "owner".into(), key_id: "key_owner".into(), kind: PrincipalKind::Human };
    let body = IncreaseBody { kind: Some("rows".into()), ..IncreaseBody::default() };
    let later = request_increase(&api.app, &owner, &body, now() + 61).await.unwrap();
    assert_eq!((later.stored, later.count_for_kind), (true, 7));
    let signals = stored(&api, "rows").await;
    assert_eq!(signals.len(), 3);
    let first = signals.iter().find(|s| text(s, "signal_id").as_deref() == first.body["signal_id"].as_str()).unwrap();
    assert_eq!(first["repeats"].as_n().unwrap(), "5", "the burst is written onto its signal when the next one is stored");
    let report = api.get("/admin/limit-signals?kind=rows", Some(&admin)).await.body;
    assert_eq!((rows(&report)["requests"].as_i64(), rows(&report)["signals"].as_i64()), (Some(7), Some(3)), "{report}");
}

#[tokio::test]
async fn bad_signals_get_their_4xx_envelope_and_store_nothing() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let before = api.items().await;
    for (body, field) in [
        (r#"{"desiredValue":-1}"#, "desiredValue"),
        (r#"{"desiredValue":0}"#, "desiredValue"),
        (r#"{"desiredValue":"5"}"#, "desiredValue"),
        (r#"{"desiredValue":1.5}"#, "desiredValue"),
        (r#"{"kind":"gold"}"#, "kind"),
        (r#"{"kind":7}"#, "kind"),
        (r#"{"reason":["a"]}"#, "reason"),
        (r#"{"desired_value":5}"#, "desired_value"),
    ] {
        let reply = ask(&api, &token, body).await;
        assert_envelope(&reply, 400, "validation_failed");
        assert_eq!(reply.body["details"]["fields"][0]["field"], field, "{body}");
    }
    assert_envelope(&ask(&api, &token, "{kind:").await, 400, "malformed_json");
    assert_envelope(&api.post_json(PATH, "bk_nope", "{}").await, 401, "unauthorized");
    assert_eq!(api.items().await, before);
}

#[tokio::test]
async fn admins_read_signals_per_kind_and_org_and_no_one_else_does() {
    let api = TestApi::new().await;
    let acme = api.org_with_key("acme").await;
    let globex = api.org_with_key("globex").await;
    ask(&api, &acme, r#"{"kind":"agents","desiredValue":5,"reason":"first"}"#).await;
    // Signals are timed to the second: the next one must be later for "latest" to be defined.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, acme_agent) = api.issue_key("acme", "bot", PrincipalKind::Agent).await;
    ask(&api, &acme_agent, r#"{"kind":"agents","desiredValue":20,"reason":"more bots"}"#).await;
    ask(&api, &acme_agent, r#"{"kind":"agents"}"#).await;
    ask(&api, &globex, r#"{"kind":"agents","desiredValue":3}"#).await;
    ask(&api, &globex, r#"{"kind":"other","reason":"SSO please"}"#).await;

    api.create_org("ops").await;
    let (_, admin) = api.issue_key("ops", "root", PrincipalKind::Admin).await;
    for token in [&acme, &acme_agent] {
        assert_envelope(&api.get("/admin/limit-signals", Some(token)).await, 403, "forbidden");
    }
    assert_envelope(&api.get("/admin/limit-signals", None).await, 401, "unauthorized");

    let reply = api.get("/admin/limit-signals", Some(&admin)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let kinds = reply.body["kinds"].as_array().unwrap();
    assert_eq!(kinds.iter().map(|k| k["kind"].as_str().unwrap()).collect::<Vec<_>>(), ["agents", "other"]);
    let agents = &kinds[0];
    assert_eq!(agents["requests"], 4);
    let top = &agents["orgs"][0];
    assert_eq!((top["org_id"].as_str(), top["requests"].as_i64(), top["signals"].as_i64()), (Some("acme"), Some(3), Some(2)));
    assert_eq!((top["highest_desired_value"].as_i64(), top["latest_reason"].as_str()), (Some(20), Some("more bots")));
    assert_eq!((top["plan"].as_str(), top["cap"].as_i64()), (Some("free"), Some(1)));
    assert_eq!(agents["orgs"][1]["org_id"], "globex");

    let only = api.get("/admin/limit-signals?kind=other", Some(&admin)).await.body;
    assert_eq!(only["kinds"].as_array().unwrap().len(), 1);
    assert_eq!(only["kinds"][0]["orgs"][0]["latest_reason"], "SSO please");
    let future = api.get("/admin/limit-signals?since=2999-01-01", Some(&admin)).await.body;
    assert_eq!(future["kinds"], json!([]));
    for query in ["?kind=gold", "?since=yesterday", "?org=acme"] {
        assert_envelope(&api.get(&format!("/admin/limit-signals{query}"), Some(&admin)).await, 400, "validation_failed");
    }
}

#[tokio::test]
async fn concurrent_requests_store_one_signal_and_count_each_once() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let (_, agent) = api.issue_key("acme", "bot", PrincipalKind::Agent).await;
    let asks = (0..30).map(|i| {
        let token = if i % 2 == 0 { token.clone() } else { agent.clone() };
        let api = &api;
        async move { ask(api, &token, r#"{"kind":"workspaces"}"#).await }
    });
    let replies = futures::future::join_all(asks).await;
    let mut counts: Vec<i64> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["count_for_kind"].as_i64().unwrap()
        })
        .collect();
    counts.sort();
    assert_eq!(counts, (1..=30).collect::<Vec<_>>(), "each request counted once");
    assert_eq!(replies.iter().filter(|r| r.body["stored"] == true).count(), 2, "one stored signal per principal");
    assert_eq!(stored(&api, "workspaces").await.len(), 2);
}
