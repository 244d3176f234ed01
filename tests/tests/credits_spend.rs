//! Spending bought credits: never below zero, a ledger entry per change (grants from the
//! webhook included), idempotency, concurrency, and the paged ledger.

use billing_shared::billing::webhook_sync::apply;
use billing_shared::domain::events::Effect;
use billing_shared::now;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{Reply, TestApi, assert_envelope, json};
use futures::future::join_all;
use serde_json::Value;

/// Grants credits as a paid credits Checkout does (the webhook's own effect).
async fn grant(api: &TestApi, org_id: &str, session_id: &str, credits: u64) {
    let effect = Effect::GrantCredits { customer_id: String::new(), payment_id: session_id.into(), credits, bought_by: None };
    apply(&api.app, org_id, &effect, None, now()).await.expect("grant credits");
}

async fn spend(api: &TestApi, token: &str, body: &str) -> Reply {
    api.post_json("/billing/credits/spend", token, body).await
}

async fn ledger(api: &TestApi, token: &str, query: &str) -> Value {
    let reply = api.get(&format!("/billing/credits{query}"), Some(token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// The ledger's entries, all pages, and checks that they add up to the balance.
async fn whole_ledger(api: &TestApi, token: &str) -> Vec<Value> {
    let (mut entries, mut balances) = (Vec::new(), Vec::new());
    let mut query = "?limit=3".to_string();
    loop {
        let page = ledger(api, token, &query).await;
        balances.push(page["balance"].as_i64().unwrap());
        let data = page["data"].as_array().unwrap().clone();
        let last = data.last().map(|e| e["id"].as_str().unwrap().to_string());
        entries.extend(data);
        match (page["has_more"].as_bool().unwrap(), last) {
            (true, Some(last)) => query = format!("?limit=3&starting_after={last}"),
            _ => break,
        }
    }
    let balance = ledger(api, token, "").await["balance"].as_i64().unwrap();
    let sum: i64 =
        entries.iter().map(|e| if e["type"] == "grant" { e["amount"].as_i64().unwrap() } else { -e["amount"].as_i64().unwrap() }).sum();
    assert_eq!(sum, balance, "the ledger sums to the balance");
    assert!(balances.iter().all(|b| *b == balance), "every page shows the balance now: {balances:?}");
    assert_eq!(api.get("/billing", Some(token)).await.body["credits"], balance, "the org's balance is the ledger's");
    // Newest first, and each entry's balance_after follows from the one before it.
    for pair in entries.windows(2) {
        let (newer, older) = (&pair[0], &pair[1]);
        let change = if newer["type"] == "grant" { newer["amount"].as_i64().unwrap() } else { -newer["amount"].as_i64().unwrap() };
        assert_eq!(older["balance_after"].as_i64().unwrap() + change, newer["balance_after"].as_i64().unwrap(), "{older} -> {newer}");
    }
    entries
}

#[tokio::test]
async fn a_spend_takes_credits_and_is_recorded_in_the_ledger_with_grants() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    assert_eq!(ledger(&api, &token, "").await, json!({"balance": 0, "data": [], "has_more": false}), "no entries yet");
    grant(&api, "acme", "cs_test_1", 100).await;
    let reply = spend(&api, &token, r#"{"amount":30,"reason":"report generation"}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!((reply.body["balance"].as_i64(), reply.body["spent"].as_i64()), (Some(70), Some(30)));
    let entry = &reply.body["entry"];
    assert_eq!(entry["type"], "spend");
    assert_eq!((entry["amount"].as_i64(), entry["balance_after"].as_i64()), (Some(30), Some(70)));
    assert_eq!(
        (entry["reason"].as_str(), entry["principal_id"].as_str(), entry["principal_kind"].as_str()),
        (Some("report generation"), Some("owner"), Some("HUMAN"))
    );
    assert!(entry["created_at"].as_i64().unwrap() >= now() - 5);

    let page = ledger(&api, &token, "").await;
    assert_eq!((page["balance"].as_i64(), page["has_more"].as_bool()), (Some(70), Some(false)));
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0], *entry, "newest first");
    assert_eq!(data[1]["type"], "grant");
    assert_eq!((data[1]["amount"].as_i64(), data[1]["balance_after"].as_i64()), (Some(100), Some(100)));
    assert_eq!(data[1]["session_id"], "cs_test_1");
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 70);

    let before = api.items().await;
    let reply = spend(&api, &token, r#"{"amount":71}"#).await;
    assert_envelope(&reply, 402, "insufficient_credits");
    assert_eq!(reply.body["details"]["balance"], 70);
    assert_eq!(reply.body["details"]["requested"], 71);
    assert_eq!(reply.body["details"]["buy"]["api"], "POST /billing/credits/checkout");
    assert_eq!(api.items().await, before, "a refused spend writes nothing");
    assert_eq!(spend(&api, &token, r#"{"amount":70}"#).await.body["balance"], 0);
    whole_ledger(&api, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_spends_of_ten_against_a_hundred_give_exactly_ten() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    grant(&api, "acme", "cs_test_1", 100).await;
    let replies = join_all((0..30).map(|_| spend(&api, &token, r#"{"amount":10}"#))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 402).count(), 20, "{statuses:?}");
    let mut balances: Vec<i64> = replies.iter().filter(|r| r.status == 200).map(|r| r.body["balance"].as_i64().unwrap()).collect();
    balances.sort();
    assert_eq!(balances, (0..10).map(|i| i * 10).collect::<Vec<_>>(), "each spend saw its own balance");
    assert_eq!(ledger(&api, &token, "").await["balance"], 0);
    let entries = whole_ledger(&api, &token).await;
    assert_eq!(entries.len(), 11, "one grant and ten spends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_keyed_spend_happens_once_and_replays_its_answer() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    grant(&api, "acme", "cs_test_1", 100).await;
    let key = [("idempotency-key", "order-42")];
    let replies = join_all((0..10).map(|_| api.post_json_with("/billing/credits/spend", &token, r#"{"amount":25}"#, &key))).await;
    let first = &replies[0];
    assert_eq!(first.status, 200, "{}", first.body);
    for reply in &replies {
        assert_eq!((reply.status, &reply.body), (200, &first.body));
    }
    assert_eq!(replies.iter().filter(|r| r.headers.get("idempotent-replayed").is_some()).count(), 9);
    assert_eq!(ledger(&api, &token, "").await["balance"], 75, "spent once");
    let reply = api.post_json_with("/billing/credits/spend", &token, r#"{"amount":26}"#, &key).await;
    assert_envelope(&reply, 422, "idempotency_key_reused");
    let reply = api.post_json_with("/billing/credits/spend", &token, r#"{"amount":25,"reason":"other"}"#, &key).await;
    assert_envelope(&reply, 422, "idempotency_key_reused");

    let broke = [("idempotency-key", "too-much")];
    let refused = api.post_json_with("/billing/credits/spend", &token, r#"{"amount":1000}"#, &broke).await;
    assert_envelope(&refused, 402, "insufficient_credits");
    let again = api.post_json_with("/billing/credits/spend", &token, r#"{"amount":1000}"#, &broke).await;
    assert_eq!((again.status, &again.body["details"]), (402, &refused.body["details"]));
    assert_eq!(whole_ledger(&api, &token).await.len(), 2);
}

#[tokio::test]
async fn bad_spends_and_ledger_queries_get_their_4xx_envelope() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    grant(&api, "acme", "cs_test_1", 100).await;
    let before = api.items().await;
    for (body, field) in [
        (r#"{"amount":0}"#, "amount"),
        (r#"{"amount":-5}"#, "amount"),
        (r#"{"amount":"10"}"#, "amount"),
        (r#"{"amount":1.5}"#, "amount"),
        (r#"{"amount":1000000001}"#, "amount"),
        (r#"{}"#, "amount"),
        (r#"{"amount":1,"reason":7}"#, "reason"),
        (r#"{"amount":1,"to":"acme"}"#, "to"),
    ] {
        let reply = spend(&api, &token, body).await;
        assert_envelope(&reply, 400, "validation_failed");
        assert_eq!(reply.body["details"]["fields"][0]["field"], field, "{body}");
    }
    assert_envelope(&spend(&api, &token, "{amount: 1}").await, 400, "malformed_json");
    let reply = api.post_json_with("/billing/credits/spend", &token, r#"{"amount":1}"#, &[("idempotency-key", "")]).await;
    assert_envelope(&reply, 400, "validation_failed");
    for query in ["?limit=0", "?limit=101", "?limit=x", "?starting_after=in_1", "?starting_after=led_", "?page=2"] {
        assert_envelope(&api.get(&format!("/billing/credits{query}"), Some(&token)).await, 400, "validation_failed");
    }
    assert_eq!(api.items().await, before);

    // A long reason is kept, cut to 500 characters.
    let reply = spend(&api, &token, &json!({"amount": 1, "reason": "r".repeat(10_000)}).to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["entry"]["reason"].as_str().unwrap().len(), 500);
    assert_envelope(&api.get("/billing/credits", None).await, 401, "unauthorized");
}

#[tokio::test]
async fn credits_bought_through_checkout_land_in_the_ledger() {
    let api = StripeTestApi::with_webhooks().await;
    let token = api.org_with_key("acme").await;
    let reply = api.post_json("/billing/credits/checkout", &token, r#"{"quantity":2}"#).await;
    let session = reply.body["session_id"].as_str().unwrap().to_string();
    api.standin.pay_checkout(&session).await.unwrap();
    api.standin.webhooks_settled().await;
    let page = ledger(&api, &token, "").await;
    assert_eq!(page["balance"], 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!((page["data"][0]["type"].as_str(), page["data"][0]["session_id"].as_str()), (Some("grant"), Some(session.as_str())));
    // The success page's sync of the same session grants (and records) nothing more.
    assert_eq!(api.get(&format!("/billing/checkout/{session}"), Some(&token)).await.status, 200);
    assert_eq!(spend(&api, &token, r#"{"amount":200}"#).await.body["balance"], 0);
    assert_eq!(whole_ledger(&api, &token).await.len(), 2);
}
