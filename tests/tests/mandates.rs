//! Mandates against DynamoDB Local and the Stripe stand-in: a human grants an AGENT key an
//! envelope, the agent's plan changes and spends inside it run without a confirmation and
//! name the mandate, each limit stops at its edge, revocation and expiry take effect on the
//! very next request, another agent key cannot use it, an agent can never grant or revoke one,
//! and racing spends never draw more than the envelope holds.

use aws_sdk_dynamodb::types::AttributeValue;
use billing_shared::billing::Caller;
use billing_shared::billing::plan_change::{UpgradeBody, upgrade};
use billing_shared::billing::webhook_sync::apply;
use billing_shared::domain::api_key::key_id_of;
use billing_shared::domain::calendar::format_instant;
use billing_shared::domain::events::Effect;
use billing_shared::domain::principal::{Principal, PrincipalKind};
use billing_shared::now;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{Reply, TestApi, assert_envelope};
use futures::future::join_all;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON")
}

async fn grant(api: &TestApi, token: &str, agent_key_id: &str, limits: Value, expires_at: Value) -> Reply {
    let body = serde_json::json!({ "agent_key_id": agent_key_id, "limits": limits, "expires_at": expires_at });
    api.post_json("/billing/mandates", token, &body.to_string()).await
}

async fn revoke(api: &TestApi, token: &str, mandate_id: &str) -> Reply {
    let req = http::Request::builder()
        .method("DELETE")
        .uri(format!("/billing/mandates/{mandate_id}"))
        .header("authorization", format!("Bearer {token}"));
    api.request(req.body(Vec::new()).unwrap()).await
}

async fn mandates(api: &TestApi, token: &str) -> Vec<Value> {
    let reply = api.get("/billing/mandates", Some(token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["data"].as_array().unwrap().clone()
}

/// Epoch seconds, as the API takes them (a string, like its dates).
fn in_days(days: i64) -> Value {
    Value::from((now() + days * DAY).to_string())
}

/// The date `days` from today, `YYYY-MM-DD` (a mandate runs at most 90 days, so tests never
/// name a fixed date).
fn date_in_days(days: i64) -> String {
    format_instant(now() + days * DAY)[..10].to_string()
}

async fn mandate_items(api: &TestApi) -> usize {
    api.items().await.iter().filter(|item| item.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk.starts_with("MANDATE#"))).count()
}

async fn grant_credits(api: &TestApi, org_id: &str, credits: u64) {
    let effect = Effect::GrantCredits { customer_id: String::new(), payment_id: "cs_test_mandate".into(), credits, bought_by: None };
    apply(&api.app, org_id, &effect, None, now()).await.expect("grant credits");
}

#[tokio::test]
async fn a_human_grants_lists_and_revokes_and_an_agent_can_do_none_of_it() {
    let api = TestApi::new().await;
    let human = api.org_with_key("acme").await;
    let (agent_key, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let (_, other_agent) = api.issue_key("acme", "helper", PrincipalKind::Agent).await;
    let (human_key, _) = api.issue_key("acme", "boss", PrincipalKind::Human).await;
    let outsider = api.org_with_key("globex").await;
    let (globex_agent, _) = api.issue_key("globex", "bot", PrincipalKind::Agent).await;
    let limits = parse(r#"{"max_plan":"pro","max_charge_per_month":5000,"credits_spend_per_day":500}"#);

    // Refused, and nothing written.
    for (token, key, limits, expires, status, error) in [
        (&agent, agent_key.as_str(), limits.clone(), in_days(30), 403, "forbidden"),
        (&human, human_key.as_str(), limits.clone(), in_days(30), 400, "validation_failed"),
        (&human, globex_agent.as_str(), limits.clone(), in_days(30), 400, "validation_failed"),
        (&human, "0000000000000000", limits.clone(), in_days(30), 400, "validation_failed"),
        (&human, agent_key.as_str(), limits.clone(), in_days(91), 400, "validation_failed"),
        (&human, agent_key.as_str(), limits.clone(), Value::from("2020-01-01"), 400, "validation_failed"),
        (&human, agent_key.as_str(), parse(r#"{"max_plan":"gold"}"#), in_days(30), 400, "validation_failed"),
        (&human, agent_key.as_str(), parse(r#"{"max_quantity":1000}"#), in_days(30), 400, "validation_failed"),
        (&human, agent_key.as_str(), parse("[null, null]"), in_days(30), 400, "validation_failed"),
        (&human, agent_key.as_str(), parse(r#"{"max_charge_per_month":9223372036854775808}"#), in_days(30), 400, "validation_failed"),
        (&human, agent_key.as_str(), parse(r#"{"credits_spend_per_day":-1}"#), in_days(30), 400, "validation_failed"),
        (&human, agent_key.as_str(), parse(r#"{"max_plan":"pro","extra":1}"#), in_days(30), 400, "validation_failed"),
    ] {
        let reply = grant(&api, token, key, limits.clone(), expires).await;
        assert_envelope(&reply, status, error);
    }
    assert_eq!(mandate_items(&api).await, 0, "a refused grant writes nothing");

    let date = date_in_days(40);
    let granted = grant(&api, &human, &agent_key, limits.clone(), Value::from(date.clone())).await;
    assert_eq!(granted.status, 201, "{}", granted.body);
    let mandate_id = granted.body["mandate_id"].as_str().unwrap().to_string();
    assert!(mandate_id.starts_with("md_"));
    assert_eq!(granted.body["status"], "active");
    assert_eq!(granted.body["expires_at"], format!("{date}T00:00:00Z"));
    assert_eq!(granted.body["limits"]["max_charge_per_month"], 5000);
    assert_eq!(granted.body["limits"]["credit_bundles_per_month"], Value::Null, "not covered");
    assert_eq!(granted.body["used"], parse(r#"{"charged_this_month":0,"credit_bundles_this_month":0,"credits_spent_today":0}"#));
    assert_eq!(granted.body["remaining"]["charge_this_month"], 5000);
    assert_eq!(granted.body["granted_by"], key_id_of(&human).unwrap());

    let again = grant(&api, &human, &agent_key, limits.clone(), in_days(10)).await;
    assert_envelope(&again, 409, "mandate_exists");

    assert_eq!(mandates(&api, &human).await.len(), 1);
    assert_eq!(mandates(&api, &agent).await[0]["mandate_id"], mandate_id.as_str(), "an agent sees its own");
    assert!(mandates(&api, &other_agent).await.is_empty(), "and only its own");
    assert!(mandates(&api, &outsider).await.is_empty(), "another org sees nothing");

    assert_envelope(&revoke(&api, &agent, &mandate_id).await, 403, "forbidden");
    assert_envelope(&revoke(&api, &outsider, &mandate_id).await, 404, "not_found");
    assert_envelope(&revoke(&api, &human, "md_1").await, 404, "not_found");
    let revoked = revoke(&api, &human, &mandate_id).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.body["status"], "revoked");
    assert!(revoked.body["revoked_at"].is_string());
    assert_eq!(revoke(&api, &human, &mandate_id).await.body["status"], "revoked", "revoking twice answers it as it is");

    let renewed = grant(&api, &human, &agent_key, limits, in_days(5)).await;
    assert_eq!(renewed.status, 201, "a revoked mandate can be replaced: {}", renewed.body);
    assert_ne!(renewed.body["mandate_id"], mandate_id.as_str());
}

#[tokio::test]
async fn an_agent_upgrade_inside_its_mandate_runs_at_once_and_outside_it_asks_for_consent() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let agent_key = key_id_of(&agent).unwrap().to_string();
    let (_, other_agent) = api.issue_key("acme", "helper", PrincipalKind::Agent).await;
    let to_scale = r#"{"plan":"scale","quantity":2}"#;

    // No mandate: the handshake, saying why.
    let asked = api.post_json("/billing/upgrade", &agent, to_scale).await;
    assert_eq!(asked.body["status"], "confirmation_required", "{}", asked.body);
    assert_eq!(asked.body["mandate_limit"], "no_mandate");
    assert_eq!(asked.body["ask_for_mandate"]["api"], "POST /billing/mandates/request");
    let due = asked.body["change"]["amount_due_now"].as_i64().unwrap();
    assert!(due > 100, "the switch charges now: {due}");

    // Each limit stops it. The prorated amount moves with the clock by less than a cent a few
    // seconds apart, so the money limit is set 2 cents below and 1 cent above what was quoted.
    for (limits, stopped_by) in [
        (serde_json::json!({ "max_plan": "pro", "max_quantity": 2, "max_charge_per_month": due + 1 }), "max_plan"),
        (serde_json::json!({ "max_plan": "scale", "max_charge_per_month": due + 1 }), "max_quantity"),
        (serde_json::json!({ "max_plan": "scale", "max_quantity": 2, "max_charge_per_month": due - 2 }), "max_charge_per_month"),
        (serde_json::json!({ "credits_spend_per_day": 10 }), "max_plan"),
    ] {
        let granted = grant(&api, &human, &agent_key, limits, in_days(30)).await;
        assert_eq!(granted.status, 201, "{}", granted.body);
        let reply = api.post_json("/billing/upgrade", &agent, to_scale).await;
        assert_eq!(reply.body["status"], "confirmation_required", "{}", reply.body);
        assert_eq!(reply.body["mandate_limit"], stopped_by);
        assert_eq!(revoke(&api, &human, granted.body["mandate_id"].as_str().unwrap()).await.status, 200);
    }
    assert_eq!(api.get("/billing", Some(&human)).await.body["plan"], "pro", "nothing changed");

    let granted = grant(
        &api,
        &human,
        &agent_key,
        serde_json::json!({ "max_plan": "scale", "max_quantity": 2, "max_charge_per_month": due + 1 }),
        in_days(30),
    )
    .await;
    let mandate_id = granted.body["mandate_id"].as_str().unwrap().to_string();
    let other = api.post_json("/billing/upgrade", &other_agent, to_scale).await;
    assert_eq!(
        (other.body["status"].as_str(), other.body["mandate_limit"].as_str()),
        (Some("confirmation_required"), Some("no_mandate")),
        "another agent key cannot use it"
    );

    let done = api.post_json("/billing/upgrade", &agent, to_scale).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "switched", "{}", done.body);
    assert_eq!(done.body["billing"]["plan"], "scale");
    assert_eq!(done.body["mandate"]["mandate_id"], mandate_id.as_str());
    let left = done.body["mandate"]["remaining"]["charge_this_month"].as_i64().unwrap();
    assert!((0..=3).contains(&left), "what remains of the month's money: {left}");
    let listed = &mandates(&api, &agent).await[0];
    assert_eq!(listed["used"]["charged_this_month"].as_i64().unwrap() + left, due + 1);

    // The record of the change names the mandate and the human who granted it.
    api.standin.webhooks_settled().await;
    let history = api.get("/billing/activity?limit=100", Some(&human)).await.body;
    let changed = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "billing.plan_changed" && r["actor"]["key_id"] == agent_key.as_str())
        .expect("the change's record")
        .clone();
    assert_eq!(changed["consent"]["mandate_id"], mandate_id.as_str());
    assert_eq!(changed["consent"]["approved_by"], key_id_of(&human).unwrap());
    for action in ["billing.mandate_granted", "billing.mandate_revoked"] {
        assert!(history["data"].as_array().unwrap().iter().any(|r| r["action"] == action), "{action}");
    }

    // Revoked: the very next request is outside it.
    assert_eq!(revoke(&api, &human, &mandate_id).await.status, 200);
    let down = api.post_json("/billing/downgrade", &agent, "").await;
    assert_eq!(
        (down.body["status"].as_str(), down.body["mandate_limit"].as_str()),
        (Some("confirmation_required"), Some("revoked")),
        "{}",
        down.body
    );
}

#[tokio::test]
async fn an_expired_mandate_covers_nothing() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let agent_key = key_id_of(&agent).unwrap().to_string();
    let until = now() + 120;
    let granted =
        grant(&api, &human, &agent_key, parse(r#"{"max_plan":"scale","max_charge_per_month":1000000}"#), Value::from(until.to_string()))
            .await;
    assert_eq!(granted.status, 201, "{}", granted.body);
    let principal =
        Principal { org_id: "acme".into(), principal_id: "assistant".into(), key_id: agent_key.clone(), kind: PrincipalKind::Agent };
    let caller = Caller { principal: &principal, base_url: "https://billing.example.com" };
    let body = UpgradeBody { plan: Some("scale".into()), ..UpgradeBody::default() };
    let answer = json!(upgrade(&api.app, &caller, &body, until).await.expect("an answer"));
    assert_eq!((answer["status"].as_str(), answer["mandate_limit"].as_str()), (Some("confirmation_required"), Some("expired")), "{answer}");
    assert_eq!(mandates(&api, &agent).await[0]["status"], "active", "still active until then");
}

#[tokio::test]
async fn spends_stop_at_the_daily_limit_exactly() {
    let api = TestApi::new().await;
    let human = api.org_with_key("acme").await;
    let (agent_key, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    grant_credits(&api, "acme", 1_000).await;
    let granted = grant(&api, &human, &agent_key, parse(r#"{"credits_spend_per_day":50}"#), in_days(1)).await;
    assert_eq!(granted.status, 201, "{}", granted.body);

    let fits = api.post_json("/billing/credits/spend", &agent, r#"{"amount":50}"#).await;
    assert_eq!(fits.status, 200, "{}", fits.body);
    assert_eq!(fits.body["mandate"]["remaining"]["credits_spend_today"], 0);
    let over = api.post_json_with("/billing/credits/spend", &agent, r#"{"amount":1}"#, &[("idempotency-key", "one-more")]).await;
    assert_envelope(&over, 402, "mandate_limit_reached");
    assert_eq!(over.body["details"]["mandate_limit"], "credits_spend_per_day");
    let replayed = api.post_json_with("/billing/credits/spend", &agent, r#"{"amount":1}"#, &[("idempotency-key", "one-more")]).await;
    assert_eq!((replayed.status, &replayed.body["details"]), (402, &over.body["details"]), "a retry gets the same refusal");
    let human_spend = api.post_json("/billing/credits/spend", &human, r#"{"amount":100}"#).await;
    assert_eq!(human_spend.status, 200, "a human's spends are not the agent's mandate's");
    assert_eq!(api.get("/billing/credits", Some(&human)).await.body["balance"], 850);
}

#[tokio::test]
async fn thirty_racing_spends_never_exceed_the_daily_limit() {
    let api = TestApi::new().await;
    let human = api.org_with_key("acme").await;
    let (agent_key, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    grant_credits(&api, "acme", 1_000).await;
    let granted = grant(&api, &human, &agent_key, parse(r#"{"credits_spend_per_day":100}"#), in_days(1)).await;
    assert_eq!(granted.status, 201, "{}", granted.body);

    let replies = join_all((0..30).map(|_| api.post_json("/billing/credits/spend", &agent, r#"{"amount":10}"#))).await;
    let spent = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies.iter().filter(|r| r.status == 402 && r.body["error"] == "mandate_limit_reached").count();
    assert_eq!((spent, refused), (10, 20), "{:?}", replies.iter().map(|r| (r.status, r.body["error"].clone())).collect::<Vec<_>>());
    let ledger = api.get("/billing/credits?limit=100", Some(&human)).await.body;
    assert_eq!(ledger["balance"], 900);
    let spends: i64 =
        ledger["data"].as_array().unwrap().iter().filter(|e| e["type"] == "spend").map(|e| e["amount"].as_i64().unwrap()).sum();
    assert_eq!(spends, 100, "the ledger sums: {ledger}");
    assert_eq!(mandates(&api, &agent).await[0]["used"]["credits_spent_today"], 100);
}

#[tokio::test]
async fn an_agent_asks_for_a_mandate_and_only_a_humans_approval_grants_it() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let agent_key = key_id_of(&agent).unwrap().to_string();
    let body = serde_json::json!({ "limits": { "max_plan": "scale", "max_quantity": 2, "max_charge_per_month": 1_000_000 }, "expires_at": date_in_days(30), "reason": "growing" });
    let body = &body.to_string();

    assert_envelope(&api.post_json("/billing/mandates/request", &human, body).await, 403, "forbidden");
    let bad = api
        .post_json(
            "/billing/mandates/request",
            &agent,
            &serde_json::json!({ "limits": { "max_plan": "gold" }, "expires_at": date_in_days(30) }).to_string(),
        )
        .await;
    assert_envelope(&bad, 400, "validation_failed");

    // Denied: nothing granted.
    let asked = api.post_json("/billing/mandates/request", &agent, body).await;
    assert_eq!(asked.body["status"], "web-approve-required", "{}", asked.body);
    assert_eq!(asked.body["mandate"]["envelope"][0]["value"], "up to Scale, up to 2 units");
    let id = asked.body["approval_id"].as_str().unwrap().to_string();
    assert_envelope(&api.post_json(&format!("/billing/approvals/{id}/approve"), &agent, "").await, 403, "forbidden");
    let seen = api.get(&format!("/billing/approvals/{id}"), Some(&human)).await;
    assert_eq!((seen.body["action"].as_str(), seen.body["change"].is_null()), (Some("mandate"), true), "{}", seen.body);
    assert_eq!(seen.body["mandate"]["reason"], "growing");
    assert_eq!(api.post_json(&format!("/billing/approvals/{id}/deny"), &human, "").await.body["status"], "denied");
    assert!(mandates(&api, &agent).await.is_empty(), "a denied request grants nothing");

    // Approved: granted as the human who approved, and the agent's upgrade then runs at once.
    let asked = api.post_json("/billing/mandates/request", &agent, body).await;
    let id = asked.body["approval_id"].as_str().unwrap().to_string();
    let approved = api.post_json(&format!("/billing/approvals/{id}/approve"), &human, "").await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["result"]["agent_key_id"], agent_key.as_str());
    assert_eq!(approved.body["result"]["granted_by"], key_id_of(&human).unwrap());
    assert_envelope(&api.post_json(&format!("/billing/approvals/{id}/approve"), &human, "").await, 409, "approval_not_pending");
    let poll = api.get(&format!("/billing/approvals/{id}"), Some(&agent)).await;
    assert_eq!((poll.body["status"].as_str(), poll.body["result"]["status"].as_str()), (Some("approved"), Some("active")));
    assert_eq!(mandates(&api, &agent).await.len(), 1);
    let done = api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale","quantity":2}"#).await;
    assert_eq!(done.body["status"], "switched", "{}", done.body);
    assert_eq!(done.body["mandate"]["mandate_id"], approved.body["result"]["mandate_id"]);
}

#[tokio::test]
async fn a_human_lists_the_orgs_agents_with_their_mandate_and_spend() {
    let api = TestApi::new().await;
    let human = api.org_with_key("acme").await;
    let (agent_key, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let (other_key, _) = api.issue_key("acme", "helper", PrincipalKind::Agent).await;
    let (revoked_key, _) = api.issue_key("acme", "retired", PrincipalKind::Agent).await;
    api.app
        .store
        .revoke_api_key(&revoked_key, now(), |record| billing_shared::domain::api_key::key_activity(record, true, now()))
        .await
        .unwrap();
    api.org_with_key("globex").await;
    api.issue_key("globex", "bot", PrincipalKind::Agent).await;
    grant_credits(&api, "acme", 100).await;
    let granted = grant(&api, &human, &agent_key, parse(r#"{"credits_spend_per_day":50}"#), in_days(3)).await;
    assert_eq!(api.post_json("/billing/credits/spend", &agent, r#"{"amount":20}"#).await.status, 200);

    assert_envelope(&api.get("/billing/agents", Some(&agent)).await, 403, "forbidden");
    let reply = api.get("/billing/agents", Some(&human)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let data = reply.body["data"].as_array().unwrap();
    let mut keys: Vec<&str> = data.iter().map(|a| a["key_id"].as_str().unwrap()).collect();
    keys.sort_unstable();
    let mut expected = vec![agent_key.as_str(), other_key.as_str()];
    expected.sort_unstable();
    assert_eq!(keys, expected, "the org's live agent keys only");
    let assistant = data.iter().find(|a| a["key_id"] == agent_key.as_str()).unwrap();
    assert_eq!((assistant["name"].as_str(), assistant["spent_today"].as_u64()), (Some("assistant"), Some(20)));
    assert_eq!(assistant["mandate"]["mandate_id"], granted.body["mandate_id"]);
    assert_eq!(assistant["paused_until"], Value::Null);
    let helper = data.iter().find(|a| a["key_id"] == other_key.as_str()).unwrap();
    assert_eq!((helper["mandate"].is_null(), helper["spent_today"].as_u64()), (true, Some(0)));
}

#[tokio::test]
async fn keys_issued_before_the_index_are_listed_once_the_operator_indexes_them() {
    let api = TestApi::new().await;
    let human = api.org_with_key("acme").await;
    let (old_key, _) = api.issue_key("acme", "veteran", PrincipalKind::Agent).await;
    // As a key was stored before the index existed: without its GSI3 attributes.
    api.app
        .store
        .client()
        .update_item()
        .table_name(api.app.store.table())
        .key("PK", AttributeValue::S(format!("APIKEY#{old_key}")))
        .key("SK", AttributeValue::S("APIKEY".into()))
        .update_expression("REMOVE GSI3PK, GSI3SK")
        .send()
        .await
        .unwrap();
    let listed =
        |reply: Reply| reply.body["data"].as_array().unwrap().iter().map(|a| a["key_id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(listed(api.get("/billing/agents", Some(&human)).await).is_empty());

    assert_eq!(api.app.store.index_unlisted_keys().await.unwrap(), 1);
    assert_eq!(listed(api.get("/billing/agents", Some(&human)).await), vec![old_key]);
    assert_eq!(api.app.store.index_unlisted_keys().await.unwrap(), 0, "indexed keys are left as they are");
}

#[tokio::test]
async fn a_change_that_charges_nothing_runs_inside_the_mandate_too() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let agent_key = key_id_of(&agent).unwrap().to_string();
    let granted = grant(&api, &human, &agent_key, parse(r#"{"max_plan":"pro"}"#), in_days(7)).await;
    assert_eq!(granted.status, 201, "{}", granted.body);
    let down = api.post_json("/billing/downgrade", &agent, "").await;
    assert_eq!(down.status, 200, "{}", down.body);
    assert_eq!(down.body["status"], "downgrade-scheduled", "{}", down.body);
    assert_eq!(down.body["mandate"]["mandate_id"], granted.body["mandate_id"]);
    assert_eq!(mandates(&api, &agent).await[0]["used"]["charged_this_month"], 0, "nothing charged, nothing counted");
}

/// `acme` with a Stripe customer whose default card is `card`; its HUMAN key and an AGENT key
/// `(key id, token)`.
async fn org_with_card(api: &StripeTestApi, card: &str) -> (String, (String, String)) {
    let human = api.org_with_key("acme").await;
    let agent = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    assert_eq!(api.post_json("/billing/credits/checkout", &human, r#"{"quantity":1}"#).await.status, 200, "a customer is made");
    api.set_card("acme", card).await;
    (human, agent)
}

async fn buy(api: &TestApi, agent: &str, quantity: u32) -> Reply {
    api.post_json("/billing/credits/checkout", agent, &serde_json::json!({ "quantity": quantity, "payment": "card_on_file" }).to_string())
        .await
}

/// The PaymentIntents the API made to charge the card on file.
fn card_payments(api: &StripeTestApi) -> usize {
    api.standin.payment_intents().into_iter().filter(|pi| pi["metadata"]["payment"] == "card_on_file").count()
}

#[tokio::test]
async fn an_agent_tops_up_inside_its_mandate_up_to_the_month_s_bundles() {
    let api = StripeTestApi::with_webhooks().await;
    let (human, (agent_key, agent)) = org_with_card(&api, "pm_card_visa").await;
    let price = api.app.config.catalog.credits.unit_amount;
    let limits = serde_json::json!({ "credit_bundles_per_month": 3, "max_charge_per_month": 3 * price });
    let granted = grant(&api, &human, &agent_key, limits, in_days(30)).await;
    assert_eq!(granted.status, 201, "{}", granted.body);

    let paid = buy(&api, &agent, 2).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.body["status"], "paid");
    assert_eq!(
        paid.body["mandate"]["remaining"],
        parse(&format!(r#"{{"charge_this_month":{price},"credit_bundles_this_month":1,"credits_spend_today":null}}"#))
    );
    let over = buy(&api, &agent, 2).await;
    assert_envelope(&over, 402, "mandate_limit_reached");
    assert_eq!(over.body["details"]["mandate_limit"], "credit_bundles_per_month");
    assert_eq!(buy(&api, &agent, 1).await.status, 200, "the one that exactly fits");
    assert_eq!(card_payments(&api), 2, "a refusal charges nothing");
    let used = &mandates(&api, &agent).await[0]["used"];
    assert_eq!((used["credit_bundles_this_month"].as_u64(), used["charged_this_month"].as_u64()), (Some(3), Some(3 * price)));
}

#[tokio::test]
async fn a_declined_card_gives_the_mandate_its_draw_back() {
    let api = StripeTestApi::with_webhooks().await;
    let (human, (agent_key, agent)) = org_with_card(&api, "pm_card_chargeDeclined").await;
    let granted = grant(&api, &human, &agent_key, parse(r#"{"credit_bundles_per_month":1}"#), in_days(30)).await;
    assert_eq!(granted.status, 201, "{}", granted.body);
    let declined = buy(&api, &agent, 1).await;
    assert_envelope(&declined, 402, "payment_failed");
    assert!(declined.body["details"]["checkout_url"].as_str().is_some_and(|url| url.starts_with("http")));
    assert_eq!(mandates(&api, &agent).await[0]["used"]["credit_bundles_this_month"], 0, "nothing bought, nothing drawn");
    assert_eq!(api.get("/billing/credits", Some(&human)).await.body["balance"], 0);
}

/// Upgrades and top-ups of one agent racing for one month's money: the charges drawn never pass
/// the limit, each one drawn is one made, and no top-up that still fitted was refused.
#[tokio::test]
async fn racing_upgrades_and_top_ups_share_the_month_s_money_and_never_pass_it() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let agent_key = key_id_of(&agent).unwrap().to_string();
    api.set_card("acme", "pm_card_visa").await;
    let credits = api.app.config.catalog.credits.clone();
    let price = i64::try_from(credits.unit_amount).unwrap();
    let to_scale = r#"{"plan":"scale","quantity":2}"#;
    let quoted = api.post_json("/billing/upgrade", &agent, to_scale).await;
    let due = quoted.body["change"]["amount_due_now"].as_i64().expect("a quote");
    let limit = due + 2 * price + 1;
    let limits =
        serde_json::json!({ "max_plan": "scale", "max_quantity": 2, "credit_bundles_per_month": 100, "max_charge_per_month": limit });
    assert_eq!(grant(&api, &human, &agent_key, limits, in_days(30)).await.status, 201);

    let upgrades = join_all((0..3).map(|_| api.post_json("/billing/upgrade", &agent, to_scale)));
    let top_ups = join_all((0..17).map(|_| buy(&api, &agent, 1)));
    let (upgrades, top_ups) = futures::join!(upgrades, top_ups);
    for reply in upgrades.iter().chain(&top_ups) {
        assert!(reply.status < 500, "{}", reply.body);
    }
    api.standin.webhooks_settled().await;
    // Paid: answered so, or charged with the grant left to the webhook (the org's item contended).
    let paid = top_ups.iter().filter(|r| r.status == 200 || r.body["error"] == "change_in_progress").count();
    let seen: Vec<_> = top_ups.iter().map(|r| (r.status, r.body["error"].clone())).collect();
    assert!(top_ups.iter().all(|r| [200, 402, 409].contains(&r.status) && r.body["error"] != "conflict"), "{seen:?}");
    assert_eq!(card_payments(&api), paid, "each top-up drawn is one charged, and says so: {seen:?}");
    let paid = i64::try_from(paid).unwrap();
    let charged = mandates(&api, &agent).await[0]["used"]["charged_this_month"].as_i64().unwrap();
    assert!(charged <= limit, "drawn {charged} of {limit}");
    let upgraded = api.get("/billing", Some(&human)).await.body["plan"] == "scale";
    let upgrade_charge = charged - paid * price;
    match upgraded {
        true => assert!((due - 2..=due + 2).contains(&upgrade_charge), "the upgrade drew {upgrade_charge}, quoted {due}"),
        false => assert_eq!(upgrade_charge, 0, "no upgrade, no draw for one"),
    }
    assert!(limit - charged < price, "a top-up that fitted was refused: {charged} of {limit}");
    let balance = api.get("/billing/credits", Some(&human)).await.body["balance"].as_i64().unwrap();
    assert_eq!(balance, paid * i64::try_from(credits.credits_per_bundle).unwrap(), "granted once each");
}

#[tokio::test]
async fn twenty_racing_top_ups_against_a_charge_limit_that_fits_three_buy_exactly_three() {
    let api = StripeTestApi::with_webhooks().await;
    let (human, (agent_key, agent)) = org_with_card(&api, "pm_card_visa").await;
    let credits = api.app.config.catalog.credits.clone();
    let limits = serde_json::json!({ "credit_bundles_per_month": 100, "max_charge_per_month": 3 * credits.unit_amount });
    assert_eq!(grant(&api, &human, &agent_key, limits, in_days(30)).await.status, 201);

    let replies = join_all((0..20).map(|_| buy(&api, &agent, 1))).await;
    let paid = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies.iter().filter(|r| r.status == 402 && r.body["details"]["mandate_limit"] == "max_charge_per_month").count();
    assert_eq!((paid, refused), (3, 17), "{:?}", replies.iter().map(|r| (r.status, r.body["error"].clone())).collect::<Vec<_>>());
    assert_eq!(card_payments(&api), 3, "charged exactly three times");
    api.standin.webhooks_settled().await;
    assert_eq!(api.get("/billing/credits", Some(&human)).await.body["balance"], 3 * credits.credits_per_bundle, "granted once each");
    assert_eq!(mandates(&api, &agent).await[0]["used"]["charged_this_month"], 3 * credits.unit_amount);
}
