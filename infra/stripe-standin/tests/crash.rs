//! What a caller dying mid-flight and the passing of days look like from the stand-in: the
//! crash trap, the account's clock and idempotency keys aging by it, and finding a customer
//! again by metadata with Customer search.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::customer::{CreateCustomer, SearchCustomer};
use stripe_shared::ApiErrorsType;

const DAY: i64 = 24 * 3600;

fn key(k: &str) -> RequestStrategy {
    RequestStrategy::Idempotent(IdempotencyKey::new(k).unwrap())
}

fn create(email: &str, org_id: &str) -> CreateCustomer {
    CreateCustomer::new().email(email).metadata(metadata(&[("org_id", org_id)]))
}

fn error_type(result: Result<impl std::fmt::Debug, StripeError>) -> (ApiErrorsType, u16) {
    match result {
        Err(StripeError::Stripe(error, status)) => (error.type_, status),
        other => panic!("expected a Stripe error, got {other:?}"),
    }
}

fn customers_created(standin: &stripe_standin::Standin) -> Vec<Value> {
    standin.events().into_iter().filter(|e| e["type"] == "customer.created").map(|e| e["data"]["object"].clone()).collect()
}

#[tokio::test]
async fn a_trapped_request_is_applied_but_never_answered_and_its_key_replays() {
    let (standin, client) = start(None).await;
    standin.hang_after("POST", "/v1/customers");

    let caller = client.clone();
    let call = tokio::spawn(async move { create("a@acme.test", "acme").customize().request_strategy(key("k-crash")).send(&caller).await });
    tokio::time::timeout(Duration::from_secs(10), standin.trapped()).await.expect("the trap fires");
    // Answered requests finish in milliseconds; this one is held until its caller gives up.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!call.is_finished(), "the held request got an answer");
    call.abort();

    let made = customers_created(&standin);
    assert_eq!(made.len(), 1, "Stripe applied the request before its caller died");
    assert_eq!(made[0]["metadata"]["org_id"], "acme");
    let logged = standin.requests();
    assert_eq!(logged.len(), 1);
    assert_eq!((logged[0].status, logged[0].idempotency_key.as_deref()), (200, Some("k-crash")));

    // The trap was one-shot: the retry is answered, from the saved result.
    let retried = create("a@acme.test", "acme").customize().request_strategy(key("k-crash")).send(&client).await.unwrap();
    assert_eq!(retried.id.as_str(), made[0]["id"]);
    assert!(standin.requests()[1].replayed);
    assert_eq!(customers_created(&standin).len(), 1);
}

#[tokio::test]
async fn the_trap_holds_only_the_matching_method_and_path() {
    let (standin, client) = start(None).await;
    standin.hang_after("POST", "/v1/checkout/sessions");
    let customer = create("a@acme.test", "acme").send(&client).await.unwrap();
    let found = get_json(&standin, &format!("/v1/customers/{}", customer.id.as_str())).await;
    assert_eq!(found["id"], customer.id.as_str());
}

#[tokio::test]
async fn the_clock_dates_new_objects_and_keys_expire_after_a_day() {
    let (standin, client) = start(None).await;
    let first = create("a@acme.test", "acme").customize().request_strategy(key("k-1")).send(&client).await.unwrap();

    standin.advance_clock(DAY - 60);
    let later = create("b@acme.test", "acme").send(&client).await.unwrap();
    assert!(later.created >= first.created + DAY - 60, "{} then {}", first.created, later.created);
    let events = standin.events();
    assert!(events[1]["created"].as_i64().unwrap() >= events[0]["created"].as_i64().unwrap() + DAY - 60);

    // Within 24 hours the key still replays, and refuses other parameters.
    let replay = create("a@acme.test", "acme").customize().request_strategy(key("k-1")).send(&client).await.unwrap();
    assert_eq!(replay.id, first.id);
    let changed = create("c@acme.test", "acme").customize().request_strategy(key("k-1")).send(&client).await;
    assert_eq!(error_type(changed), (ApiErrorsType::IdempotencyError, 400));

    // Past 24 hours Stripe has forgotten the key: the same request runs anew.
    standin.advance_clock(120);
    let anew = create("a@acme.test", "acme").customize().request_strategy(key("k-1")).send(&client).await.unwrap();
    assert_ne!(anew.id, first.id);
    assert!(!standin.requests().last().unwrap().replayed);
    assert_eq!(customers_created(&standin).len(), 3);
}

#[tokio::test]
async fn customers_are_found_by_metadata_newest_first() {
    let (standin, client) = start(None).await;
    let older = create("a@acme.test", "acme").send(&client).await.unwrap();
    create("g@globex.test", "globex").send(&client).await.unwrap();
    let newer = create("b@acme.test", "acme").send(&client).await.unwrap();

    let found = SearchCustomer::new("metadata['org_id']:'acme'").send(&client).await.unwrap();
    let ids: Vec<&str> = found.data.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [newer.id.as_str(), older.id.as_str()]);
    assert!(!found.has_more);

    let page = get_json(&standin, "/v1/customers/search?query=metadata%5B%22org_id%22%5D%3A%22acme%22&limit=1").await;
    assert_eq!(page["object"], "search_result");
    assert_eq!(page["url"], "/v1/customers/search");
    assert_eq!(page["next_page"], Value::Null);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["data"][0]["id"], newer.id.as_str());
    assert_fixture_keys(&page["data"][0]);

    let none = SearchCustomer::new("metadata['org_id']:'initech'").send(&client).await.unwrap();
    assert!(none.data.is_empty());
}

#[tokio::test]
async fn other_search_queries_and_limits_get_stripe_errors() {
    let (standin, client) = start(None).await;
    let unsupported = SearchCustomer::new("email:'a@acme.test'").send(&client).await;
    assert_eq!(error_type(unsupported), (ApiErrorsType::InvalidRequestError, 400));

    let headers = [("authorization", "Bearer sk_test_standin")];
    let reply = raw(&standin, "GET", "/v1/customers/search?query=name%3A%27Acme%27", &headers, "").await;
    assert_eq!(reply.status, 400);
    let error = &reply.json()["error"];
    assert_eq!((error["type"].as_str(), error["param"].as_str()), (Some("invalid_request_error"), Some("query")));
    assert!(error["message"].as_str().unwrap().contains("metadata['org_id']:'acme'"), "{error}");

    let missing = raw(&standin, "GET", "/v1/customers/search", &headers, "").await;
    assert_eq!((missing.status, missing.json()["error"]["code"].as_str()), (400, Some("parameter_missing")));
    for limit in [0, 101] {
        let query = format!("/v1/customers/search?query=metadata%5B%27org_id%27%5D%3A%27acme%27&limit={limit}");
        let reply = raw(&standin, "GET", &query, &headers, "").await;
        assert_eq!((reply.status, reply.json()["error"]["param"].as_str()), (400, Some("limit")), "{limit}");
    }
}
