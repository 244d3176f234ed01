//! Outbound events end to end: each change writes its activity record in its own write, the
//! table's stream carries it to the publisher, the publisher puts it on the bus (moto), a rule
//! forwards it to SQS, and every event fits its documented schema. One event per change: not
//! two for a retried request or a redelivered webhook, none for a refused request.

use billing_infra::outbox::StreamPump;
use billing_shared::config::aws_sdk_config;
use billing_shared::domain::{api_key, ids};
use billing_tests::events::Pipeline;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{TestApi, assert_envelope, require_env};
use serde_json::Value;

fn types(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(t, _)| t.as_str()).collect()
}

#[tokio::test]
async fn a_plan_change_is_one_event_however_often_it_is_asked() {
    let (api, human, _) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let mut pipeline = Pipeline::start(&api).await;
    let setup = pipeline.deliver_details().await;
    assert_eq!(types(&setup), ["billing.plan_changed", "billing.subscription_status_changed"], "{setup:?}");
    assert_eq!(setup[0].1["actor"]["kind"], "stripe");
    assert_eq!(setup[0].1["data"]["to"]["plan"], "pro");

    let reply = api.post_json("/billing/upgrade", &human, r#"{"plan":"scale"}"#).await;
    assert_eq!(reply.body["status"], "switched", "{}", reply.body);
    let again = api.post_json("/billing/upgrade", &human, r#"{"plan":"scale"}"#).await;
    assert_eq!(again.body["status"], "already-on-plan", "{}", again.body);
    // Refused requests: bad input, no key, a wrong key.
    assert_envelope(&api.post_json("/billing/upgrade", &human, r#"{"plan":"platinum"}"#).await, 400, "validation_failed");
    assert_envelope(&api.post_json("/billing/upgrade", &human, "{plan").await, 400, "malformed_json");
    assert_eq!(api.post_json("/billing/upgrade", "bk_nope", r#"{"plan":"scale"}"#).await.status, 401);
    api.standin.webhooks_settled().await;

    let events = pipeline.deliver_details().await;
    assert_eq!(types(&events), ["billing.plan_changed"], "{events:?}");
    let (_, detail) = &events[0];
    assert_eq!(detail["data"]["kind"], "upgrade");
    assert_eq!((&detail["data"]["from"]["plan"], &detail["data"]["to"]["plan"]), (&"pro".into(), &"scale".into()));
    assert_eq!((&detail["actor"]["principal_id"], &detail["actor"]["principal_kind"]), (&"owner".into(), &"HUMAN".into()));
    assert!(detail["actor"]["key_id"].is_string() && detail["request_id"].is_string(), "the key and the request that did it: {detail}");
    assert!(detail.get("consent").is_none(), "a HUMAN's own change needs no consent: {detail}");
}

#[tokio::test]
async fn a_payment_failure_is_reported_once_however_often_stripe_delivers_it() {
    let (api, _, _) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let mut pipeline = Pipeline::start(&api).await;
    pipeline.deliver().await;
    let org = api.app.store.get_org("acme").await.unwrap().unwrap();
    api.standin.decline_payments(&org.stripe_customer_id.unwrap());
    api.standin.advance_period(&api.subscription_id(), false).await.unwrap();
    api.standin.webhooks_settled().await;
    let events = pipeline.deliver_details().await;
    let mut seen = types(&events);
    seen.sort();
    assert_eq!(seen, ["billing.payment_failed", "billing.subscription_status_changed"], "{events:?}");
    let status = events.iter().find(|(t, _)| t == "billing.subscription_status_changed").unwrap();
    assert_eq!((&status.1["data"]["from"], &status.1["data"]["to"]), (&"active".into(), &"past_due".into()));

    for event in api.standin.events() {
        api.standin.redeliver(event["id"].as_str().unwrap()).await.unwrap();
    }
    api.standin.webhooks_settled().await;
    assert_eq!(pipeline.deliver().await, Vec::<Value>::new(), "redelivered webhooks change nothing and report nothing");
}

#[tokio::test]
async fn a_cap_refusal_is_reported_once_a_minute_and_thresholds_once_a_period() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let mut pipeline = Pipeline::start(&api).await;
    let reserve = |body: &'static str| api.post_json("/billing/usage/agents/reserve", &token, body);
    assert_eq!(reserve("").await.status, 200);
    for _ in 0..5 {
        assert_envelope(&reserve("").await, 402, "plan_limit_reached");
    }
    assert_envelope(&reserve(r#"{"count":0}"#).await, 400, "validation_failed");
    let events = pipeline.deliver_details().await;
    assert_eq!(
        types(&events),
        ["billing.usage_threshold_crossed", "billing.usage_threshold_crossed", "billing.limit_reached"],
        "the free plan's one agent crosses 80% and 100% at once; five refusals are one report: {events:?}"
    );
    assert_eq!((&events[0].1["data"]["percent"], &events[1].1["data"]["percent"]), (&80.into(), &100.into()));
    assert_eq!(events[2].1["data"], serde_json::json!({"resource": "agents", "plan": "free", "active": 1, "cap": 1}));
    assert_eq!(events[2].1["actor"]["principal_id"], "owner", "the refused caller");

    // The local run's page lists them, newest first; another org's are not there.
    let page = api.get("/local/events?org=acme", None).await;
    let html = page.body.as_str().unwrap_or_default();
    assert!(html.find("billing.limit_reached") < html.find("billing.usage_threshold_crossed"), "{html}");
    assert!(!api.get("/local/events?org=other", None).await.body.as_str().unwrap().contains("billing."));
    assert_envelope(&api.get("/local/events?org=%3Cscript%3E", None).await, 400, "validation_failed");

    // Freed and taken again in the same period: no second report.
    assert_eq!(api.post_json("/billing/usage/agents/release", &token, "").await.status, 200);
    assert_eq!(reserve("").await.status, 200);
    assert_eq!(pipeline.deliver().await, Vec::<Value>::new());
}

/// The count `/local/events` shows for `metric` with `labels` (`resource=webhooks plan=free`), 0
/// if it shows none.
fn shown_count(html: &str, metric: &str, labels: &str) -> u64 {
    let text = |cell: &str| {
        let mut text = String::new();
        let mut in_tag = false;
        for c in cell.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        text
    };
    let metrics = html.split("<h2>Metrics since start</h2>").nth(1).unwrap_or_else(|| panic!("no metrics section: {html}"));
    metrics
        .split("<tr>")
        .map(|row| row.split("<td>").skip(1).collect::<Vec<_>>())
        .find(|cells| cells.len() == 3 && cells[0].starts_with(&format!("<code>{metric}</code>")) && text(cells[1]) == labels)
        .map_or(0, |cells| text(cells[2]).parse().unwrap_or_else(|_| panic!("not a count: {}", cells[2])))
}

/// The local run counts the metrics of every function since it started, on the events page:
/// a credits checkout paid and two 402s at the webhooks cap show as such. Other tests of this
/// file count in the same process, so the page is read before and after (none of them buys
/// credits or reserves webhooks).
#[tokio::test]
async fn the_local_events_page_counts_metrics_since_start() {
    billing_infra::metric_counts::install();
    let api = StripeTestApi::with_webhooks().await;
    let token = api.org_with_key("acme").await;
    let page = || async { api.get("/local/events?org=acme", None).await.body.as_str().unwrap_or_default().to_string() };
    let counts = |html: &str| {
        [
            shown_count(html, "checkout_started", "kind=credits"),
            shown_count(html, "checkout_completed", "kind=credits"),
            shown_count(html, "plan_limit_reached", "resource=webhooks plan=free"),
        ]
    };
    let before = counts(&page().await);

    let checkout = api.post_json("/billing/credits/checkout", &token, r#"{"quantity":2}"#).await;
    assert_eq!(checkout.status, 200, "{}", checkout.body);
    api.standin.pay_checkout(checkout.body["session_id"].as_str().unwrap()).await.unwrap();
    api.standin.webhooks_settled().await;
    let reserve = || api.post_json("/billing/usage/webhooks/reserve", &token, "");
    assert_eq!(reserve().await.status, 200);
    assert_envelope(&reserve().await, 402, "plan_limit_reached");
    assert_envelope(&reserve().await, 402, "plan_limit_reached");

    let html = page().await;
    let after = counts(&html);
    let added: Vec<u64> = after.iter().zip(before).map(|(after, before)| after - before).collect();
    assert_eq!(added, [1, 1, 2], "checkout started, completed, refused at the cap: {html}");
    assert!(html.contains("Reservations refused at the cap (402)"), "each metric says what it counts: {html}");
    let [started, refused] = ["<code>checkout_started</code>", "<code>plan_limit_reached</code>"].map(|m| html.find(m));
    assert!(started < refused, "sorted by metric: {html}");
}

#[tokio::test]
async fn an_approval_reports_its_request_its_decision_and_the_change_under_it() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let mut pipeline = Pipeline::start(&api).await;
    pipeline.deliver().await;
    let ask = api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale","mode":"web"}"#).await;
    let id = ask.body["approval_id"].as_str().expect("an approval").to_string();
    let approved = api.post_json(&format!("/billing/approvals/{id}/approve"), &human, "").await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);
    let denied_id =
        api.post_json("/billing/downgrade", &agent, r#"{"mode":"web"}"#).await.body["approval_id"].as_str().unwrap().to_string();
    assert_eq!(api.post_json(&format!("/billing/approvals/{denied_id}/deny"), &human, "").await.status, 200);
    api.standin.webhooks_settled().await;

    let events = pipeline.deliver_details().await;
    assert_eq!(
        types(&events),
        [
            "billing.approval_requested",
            "billing.approval_decided",
            "billing.plan_changed",
            "billing.approval_requested",
            "billing.approval_decided"
        ],
        "{events:?}"
    );
    let agent_key = api_key::key_id_of(&agent).unwrap();
    let agent_actor = serde_json::json!({"kind": "principal", "principal_id": "assistant", "principal_kind": "AGENT", "key_id": agent_key});
    assert_eq!(events[0].1["actor"], agent_actor);
    assert_eq!(events[1].1["data"]["decision"], "approved");
    assert_eq!(events[1].1["actor"]["principal_id"], "owner");
    let change = &events[2].1;
    assert_eq!(change["actor"], agent_actor, "the change is the agent's, made under the human's consent");
    let consent = serde_json::json!({"kind": "web_approval", "approved_by": "owner", "approval_id": ids::hash(&id)});
    assert_eq!(change["consent"], consent, "the approval by its hash, never its id");
    assert_eq!(events[4].1["data"]["decision"], "denied");
}

#[tokio::test]
async fn events_of_an_org_arrive_in_order_and_a_dead_publisher_loses_none() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let kinds = ["agents", "members", "workspaces", "rows", "api_calls", "webhooks", "servers", "other", "agents", "members"];
    let mut signal_ids = Vec::new();
    for (n, kind) in kinds.iter().enumerate() {
        // Another principal for the repeats, so each is a request of its own, not a burst.
        let (_, key) = api.issue_key("acme", &format!("p{n}"), billing_shared::domain::principal::PrincipalKind::Agent).await;
        let key = if n < 8 { token.clone() } else { key };
        let reply = api.post_json("/billing/request-limit-increase", &key, &format!(r#"{{"kind":"{kind}"}}"#)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        signal_ids.push(reply.body["signal_id"].as_str().unwrap().to_string());
    }
    let mut pipeline = Pipeline::start(&api).await;

    // The bus refuses (it does not exist): nothing is lost, the records wait for the next try.
    let moto = aws_sdk_config().await.into_builder().endpoint_url(require_env("MOTO_ENDPOINT")).build();
    let missing = billing_shared::bus::EventBus::new(&moto, "no-such-bus");
    assert!(pipeline.pump.pump(&missing).await.unwrap().is_empty());

    let events = pipeline.deliver_details().await;
    let order: Vec<&str> = events.iter().map(|(_, d)| d["data"]["signal_id"].as_str().unwrap_or_default()).collect();
    assert_eq!(order, signal_ids, "in the order the requests were made, across PutEvents calls of 10");

    // A publisher that died before reporting its batch done: Lambda delivers the batch again.
    let dynamodb = aws_sdk_config().await.into_builder().endpoint_url(require_env("AWS_ENDPOINT_URL_DYNAMODB")).build();
    let mut restarted = StreamPump::new(&dynamodb, api.app.store.table()).await.unwrap();
    restarted.pump(&pipeline.bus.bus).await.unwrap();
    let again = pipeline.deliver_details().await;
    let ids = |events: &[(String, Value)]| events.iter().map(|(_, d)| d["id"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&events), "every event again, with the same ids for consumers to dedupe by");
    let mut unique = ids(&events);
    unique.dedup();
    assert_eq!(unique.len(), kinds.len());
}
