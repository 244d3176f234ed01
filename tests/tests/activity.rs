//! The activity history (`GET /billing/activity`) against DynamoDB Local and the Stripe
//! stand-in: every billing action leaves exactly one record, written with it, naming the key,
//! the request and the consent that allowed it; refusals, retries and redelivered webhooks
//! leave none; an AGENT sees its own actions only; pages run newest first without gaps; one
//! org never sees another's.

use std::collections::BTreeMap;

use billing_shared::domain::api_key::{self, key_activity};
use billing_shared::domain::ids;
use billing_shared::domain::principal::PrincipalKind;
use billing_shared::now;
use billing_tests::stripe::{StripeTestApi, WEBHOOK_SECRET};
use billing_tests::{TestApi, assert_envelope};
use serde_json::Value;

/// The whole history `token` may see (`query` added to the URL), newest first, page by page.
async fn history(api: &TestApi, token: &str, query: &str) -> Vec<Value> {
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.as_ref().map(|c| format!("&starting_after={c}")).unwrap_or_default();
        let reply = api.get(&format!("/billing/activity?limit=100{query}{after}"), Some(token)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        records.extend(reply.body["data"].as_array().unwrap().iter().cloned());
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return records,
        }
    }
}

/// How many records of each action.
fn counts(records: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for record in records {
        *counts.entry(record["action"].as_str().unwrap().to_string()).or_default() += 1;
    }
    counts
}

/// The one record of `action` (there must be exactly one).
fn only<'a>(records: &'a [Value], action: &str) -> &'a Value {
    let found: Vec<&Value> = records.iter().filter(|r| r["action"] == action).collect();
    assert_eq!(found.len(), 1, "one {action}: {records:#?}");
    found[0]
}

#[tokio::test]
async fn every_action_leaves_one_record_with_the_consent_that_allowed_it() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let (human_key, agent_key) = (api_key::key_id_of(&human).unwrap().to_string(), api_key::key_id_of(&agent).unwrap().to_string());

    // A web approval: the agent asks, the human approves, the upgrade runs under it.
    let asked = api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale","mode":"web"}"#).await;
    let approval_id = asked.body["approval_id"].as_str().expect("an approval").to_string();
    let approved = api.post_json(&format!("/billing/approvals/{approval_id}/approve"), &human, "").await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);
    let again = api.post_json(&format!("/billing/approvals/{approval_id}/approve"), &human, "").await;
    assert_ne!(again.body["status"], "approved", "decided once: {}", again.body);
    api.standin.webhooks_settled().await;

    // Chat consent: asked, then confirmed with the token (and the confirmation retried).
    let consent = api.post_json("/billing/downgrade", &agent, "{}").await;
    assert_eq!(consent.body["status"], "confirmation_required", "{}", consent.body);
    let token = consent.body["confirm_token"].as_str().unwrap().to_string();
    let confirm = format!(r#"{{"confirm_token":"{token}"}}"#);
    let confirmed = api.post_json("/billing/downgrade", &agent, &confirm).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    api.post_json("/billing/downgrade", &agent, &confirm).await;
    api.standin.webhooks_settled().await;

    // Credits: bought through Checkout (the webhook delivered twice), spent with a retried key.
    let credits = api.post_json("/billing/credits/checkout", &human, r#"{"quantity":1}"#).await;
    api.standin.pay_checkout(credits.body["session_id"].as_str().unwrap()).await.unwrap();
    api.standin.webhooks_settled().await;
    let completed = api.events_of("checkout.session.completed").pop().unwrap();
    assert_eq!(api.deliver(&completed, WEBHOOK_SECRET, None).await.status, 200);
    let spend = |body: &'static str| api.post_json_with("/billing/credits/spend", &agent, body, &[("idempotency-key", "spend-1")]);
    let spent = spend(r#"{"amount":3,"reason":"report"}"#).await;
    assert_eq!(spent.status, 200, "{}", spent.body);
    assert_eq!(spend(r#"{"amount":3,"reason":"report"}"#).await.body, spent.body, "the retry is the first answer");

    let increase = api.post_json("/billing/request-limit-increase", &agent, r#"{"kind":"rows","desiredValue":2000000}"#).await;
    assert_eq!(increase.status, 200, "{}", increase.body);

    // Refused: they leave nothing.
    let before = history(&api, &human, "").await;
    assert_envelope(&api.post_json("/billing/upgrade", &agent, r#"{"plan":"platinum"}"#).await, 400, "validation_failed");
    assert_envelope(&api.post_json("/billing/credits/spend", &agent, r#"{"amount":1000000}"#).await, 402, "insufficient_credits");
    assert_envelope(&api.post_json("/billing/downgrade", &agent, r#"{"confirm_token":"ct_nope"}"#).await, 400, "invalid_confirm_token");
    assert_eq!(history(&api, &human, "").await, before, "refusals leave no record");

    // The operator revokes the agent's key (twice: the second finds it revoked).
    for _ in 0..2 {
        api.app.store.revoke_api_key(&agent_key, now(), |record| key_activity(record, true, now())).await.unwrap().unwrap();
    }

    let records = history(&api, &human, "").await;
    let expected = [
        ("billing.api_key_issued", 2),
        ("billing.checkout_started", 1),
        ("billing.plan_changed", 3),
        ("billing.subscription_status_changed", 1),
        ("billing.approval_requested", 1),
        ("billing.approval_decided", 1),
        ("billing.consent_requested", 1),
        ("billing.credits_granted", 1),
        ("billing.credits_spent", 1),
        // The spend took the balance below the low level.
        ("billing.credits_low", 1),
        ("billing.limit_increase_requested", 1),
        ("billing.api_key_revoked", 1),
    ];
    let expected: BTreeMap<String, usize> = expected.into_iter().map(|(action, n)| (action.to_string(), n)).collect();
    assert_eq!(counts(&records), expected, "{records:#?}");

    let upgrade = records.iter().find(|r| r["action"] == "billing.plan_changed" && r["params"]["kind"] == "upgrade").unwrap();
    assert_eq!(upgrade["actor"], serde_json::json!({ "key_id": agent_key, "kind": "AGENT", "name": "assistant" }));
    assert_eq!(upgrade["consent"], serde_json::json!({ "approval_id": ids::hash(&approval_id), "approved_by": "owner" }));
    assert_eq!((&upgrade["outcome"], &upgrade["request_id"]), (&"executed".into(), &approved.request_id.as_str().into()));
    let decided = only(&records, "billing.approval_decided");
    assert_eq!((&decided["actor"]["key_id"], &decided["outcome"]), (&human_key.as_str().into(), &"approved".into()));

    let downgrade = records.iter().find(|r| r["action"] == "billing.plan_changed" && r["params"]["kind"] == "downgrade").unwrap();
    assert_eq!(downgrade["consent"], serde_json::json!({ "confirm_token_hash": ids::hash(&token) }), "the hash, never the token");
    assert_eq!((&downgrade["outcome"], &downgrade["request_id"]), (&"scheduled".into(), &confirmed.request_id.as_str().into()));
    assert!(!serde_json::to_string(&records).unwrap().contains(&token), "no record holds a token");
    let asked = only(&records, "billing.consent_requested");
    assert_eq!((&asked["actor"]["key_id"], &asked["request_id"]), (&agent_key.as_str().into(), &consent.request_id.as_str().into()));

    let setup = records.iter().find(|r| r["action"] == "billing.plan_changed" && r["params"]["kind"] == "stripe").unwrap();
    assert_eq!(setup["actor"], serde_json::json!({ "key_id": null, "kind": "stripe", "name": "Stripe" }));
    let granted = only(&records, "billing.credits_granted");
    assert_eq!(granted["stripe"]["session_id"], credits.body["session_id"]);
    let spent_record = only(&records, "billing.credits_spent");
    assert_eq!(spent_record["amount"], serde_json::json!({ "value": 3, "unit": "credits" }));
    assert_eq!(
        (&spent_record["params"]["entry_id"], &spent_record["request_id"]),
        (&spent.body["entry"]["id"], &spent.request_id.as_str().into())
    );
    let started = only(&records, "billing.checkout_started");
    assert_eq!((&started["actor"]["key_id"], &started["params"]["to"]["plan"]), (&human_key.as_str().into(), &"pro".into()));
    let revoked = only(&records, "billing.api_key_revoked");
    assert_eq!((&revoked["actor"]["kind"], &revoked["params"]["key_id"]), (&"operator".into(), &agent_key.as_str().into()));
    assert!(records.iter().all(|r| r["org_id"] == "acme"));
}

#[tokio::test]
async fn an_agent_sees_its_own_actions_only() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let (human_key, agent_key) = (api_key::key_id_of(&human).unwrap(), api_key::key_id_of(&agent).unwrap());
    let (_, other_agent) = api.issue_key("acme", "other-bot", PrincipalKind::Agent).await;
    api.post_json("/billing/request-limit-increase", &agent, r#"{"kind":"rows"}"#).await;
    api.post_json("/billing/request-limit-increase", &other_agent, r#"{"kind":"agents"}"#).await;
    api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale"}"#).await;

    let own = history(&api, &agent, "").await;
    assert_eq!(
        own.iter().map(|r| r["action"].as_str().unwrap()).collect::<Vec<_>>(),
        ["billing.consent_requested", "billing.limit_increase_requested"],
        "newest first, its own: {own:#?}"
    );
    assert!(own.iter().all(|r| r["actor"]["key_id"] == agent_key), "{own:#?}");
    assert_eq!(history(&api, &agent, &format!("&actor={agent_key}")).await, own, "naming itself is the same");
    assert_envelope(&api.get(&format!("/billing/activity?actor={human_key}"), Some(&agent)).await, 403, "forbidden");

    // A HUMAN sees the whole org, and may narrow it to one key.
    let all = history(&api, &human, "").await;
    assert!(all.len() > own.len() + 1, "{all:#?}");
    assert_eq!(history(&api, &human, &format!("&actor={agent_key}")).await, own);
    let other = history(&api, &other_agent, "").await;
    assert_eq!(other.len(), 1, "{other:#?}");
    assert_eq!(other[0]["params"]["resource"], "agents");
}

#[tokio::test]
async fn pages_run_newest_first_without_gaps_or_duplicates_in_one_query_each() {
    let api = TestApi::new().await;
    let human = api.org_with_key("acme").await;
    api.edit_org("acme", |org| org.credits = 1_000).await;
    for n in 1..=23 {
        let reply = api.post_json("/billing/credits/spend", &human, &format!(r#"{{"amount":{n}}}"#)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let whole = api.get("/billing/activity?limit=100", Some(&human)).await.body;
    assert_eq!((whole["has_more"].as_bool(), &whole["next_cursor"]), (Some(false), &Value::Null));
    let whole = whole["data"].as_array().unwrap().clone();
    assert_eq!(whole.len(), 24, "23 spends and the key's issue");
    let amounts: Vec<u64> = whole.iter().filter_map(|r| r["params"]["amount"].as_u64()).collect();
    assert_eq!(amounts, (1..=23).rev().collect::<Vec<u64>>(), "newest first");

    let mut paged = Vec::new();
    let mut path = "/billing/activity?limit=5".to_string();
    loop {
        let page = api.get(&path, Some(&human)).await.body;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 5);
        paged.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page["has_more"], true);
                path = format!("/billing/activity?limit=5&starting_after={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(paged, whole, "the pages are the whole history, in order, once each");

    // One DynamoDB call answers a page (the GetItem before it is the authorizer's key lookup).
    let (probed, calls) = api.with_refusable_transactions();
    calls.take_calls();
    let cursor = whole[4]["activity_id"].as_str().unwrap().to_string() + "-" + &whole[4]["at"].to_string();
    assert_eq!(probed.get(&format!("/billing/activity?limit=5&starting_after={cursor}"), Some(&human)).await.status, 200);
    assert_eq!(calls.take_calls(), ["GetItem", "Query"]);

    assert_envelope(&api.get("/billing/activity?limit=0", Some(&human)).await, 400, "validation_failed");
    assert_envelope(&api.get("/billing/activity?limit=101", Some(&human)).await, 400, "validation_failed");
    assert_envelope(&api.get("/billing/activity?starting_after=led_3", Some(&human)).await, 400, "validation_failed");
    assert_envelope(&api.get("/billing/activity?color=red", Some(&human)).await, 400, "validation_failed");
    assert_envelope(&api.get("/billing/activity", None).await, 401, "unauthorized");
}

#[tokio::test]
async fn an_org_never_sees_another_org_s_activity() {
    let api = TestApi::new().await;
    let acme = api.org_with_key("acme").await;
    let globex = api.org_with_key("globex").await;
    api.edit_org("acme", |org| org.credits = 10).await;
    assert_eq!(api.post_json("/billing/credits/spend", &acme, r#"{"amount":1}"#).await.status, 200);
    let theirs = history(&api, &globex, "").await;
    assert_eq!(counts(&theirs), BTreeMap::from([("billing.api_key_issued".to_string(), 1)]), "{theirs:#?}");
    assert!(theirs.iter().all(|r| r["org_id"] == "globex"));
    let acme_key = api_key::key_id_of(&acme).unwrap();
    assert_eq!(history(&api, &globex, &format!("&actor={acme_key}")).await, Vec::<Value>::new(), "another org's key shows nothing");
}

#[tokio::test]
async fn records_expire_after_the_retention_the_deployment_sets() {
    let api = StripeTestApi::with_config(&[("ACTIVITY_RETENTION_DAYS", "30")]).await;
    let human = api.org_with_key("acme").await;
    assert_eq!(api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"month"}"#).await.status, 200);
    let records = api.items_with_pk_prefix("ORG#acme").await;
    let records: Vec<_> = records.iter().filter(|i| i["SK"].as_s().unwrap().starts_with("ACTIVITY#")).collect();
    assert_eq!(records.len(), 2, "the key's issue and the checkout: {records:?}");
    for record in records {
        let at: i64 = record["occurred_at"].as_n().unwrap().parse().unwrap();
        assert_eq!(record["expires_at"].as_n().unwrap().parse::<i64>().unwrap(), at + 30 * 86_400, "{record:?}");
    }
}
