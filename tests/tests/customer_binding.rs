//! The org-to-customer binding survives a function dying between Stripe's answer and its
//! DynamoDB write, even when the retry comes after Stripe forgot the idempotency key: the
//! retry finds the customer by its `org_id` metadata instead of making a second one.

use std::sync::Arc;
use std::time::Duration;

use billing_tests::stripe::StripeTestApi;
use stripe_core::customer::CreateCustomer;

const CUSTOMERS: &str = "/v1/customers";
const SEARCH: &str = "/v1/customers/search";
const CHECKOUT: &str = r#"{"plan":"pro","interval":"month"}"#;

/// The customers the stand-in holds for `org_id`, by id.
fn customers_of(api: &StripeTestApi, org_id: &str) -> Vec<String> {
    api.standin
        .events()
        .into_iter()
        .filter(|e| e["type"] == "customer.created" && e["data"]["object"]["metadata"]["org_id"] == org_id)
        .map(|e| e["data"]["object"]["id"].as_str().unwrap().to_string())
        .collect()
}

async fn bound_customer(api: &StripeTestApi, org_id: &str) -> Option<String> {
    api.app.store.get_org(org_id).await.unwrap().unwrap().stripe_customer_id
}

#[tokio::test]
async fn a_checkout_retried_after_stripes_key_expired_binds_the_customer_made_before_the_crash() {
    let api = Arc::new(StripeTestApi::new().await);
    let token = api.org_with_key("crashco").await;

    // The function dies right after Stripe made the customer, before its own write.
    api.standin.hang_after("POST", CUSTOMERS);
    let dying = {
        let (api, token) = (api.clone(), token.clone());
        tokio::spawn(async move { api.post_json("/billing/checkout", &token, CHECKOUT).await })
    };
    tokio::time::timeout(Duration::from_secs(10), api.standin.trapped()).await.expect("the customer is created");
    dying.abort();
    let made = customers_of(&api, "crashco");
    assert_eq!(made.len(), 1);
    assert_eq!(bound_customer(&api, "crashco").await, None, "the crash lost the binding");

    // A day later Stripe no longer knows the idempotency key.
    api.standin.advance_clock(25 * 3600);
    let reply = api.post_json("/billing/checkout", &token, CHECKOUT).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    assert_eq!(customers_of(&api, "crashco"), made, "no second customer");
    assert_eq!(bound_customer(&api, "crashco").await.as_ref(), Some(&made[0]));
    let sessions = api.calls("POST", "/v1/checkout/sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].params["customer"], made[0].as_str());
}

#[tokio::test]
async fn an_answer_lost_in_flight_is_retried_with_the_same_key_and_replayed() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    api.standin.hang_after("POST", CUSTOMERS);
    // The gateway gives up on the held answer after its attempt timeout and asks again.
    let reply = api.post_json("/billing/checkout", &token, CHECKOUT).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let attempts = api.calls("POST", CUSTOMERS);
    assert_eq!(attempts.len(), 2);
    assert!(attempts[0].idempotency_key.is_some());
    assert_eq!(attempts[0].idempotency_key, attempts[1].idempotency_key, "one idempotency key across retries");
    assert!(attempts[1].replayed);
    let made = customers_of(&api, "acme");
    assert_eq!(made.len(), 1);
    assert_eq!(bound_customer(&api, "acme").await.as_ref(), Some(&made[0]));
}

#[tokio::test]
async fn a_first_checkout_looks_for_the_orgs_customer_then_makes_exactly_one() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let reply = api.post_json("/billing/checkout", &token, CHECKOUT).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let searches = api.calls("GET", SEARCH);
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0].params["query"], "metadata['org_id']:'acme'");
    assert_eq!(searches[0].idempotency_key, None);
    assert_eq!(api.calls("POST", CUSTOMERS).len(), 1);
    assert_eq!(customers_of(&api, "acme").len(), 1);

    // Once recorded, the binding is used as is: no further search or customer.
    api.standin.pay_checkout(reply.body["session_id"].as_str().unwrap()).await.unwrap();
    let reply = api.post_json("/billing/credits/checkout", &token, r#"{"quantity":1}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!((api.calls("GET", SEARCH).len(), api.calls("POST", CUSTOMERS).len()), (1, 1));
}

#[tokio::test]
async fn credits_checkout_binds_the_oldest_of_the_orgs_customers() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let stripe = api.stripe_client();
    let org = std::collections::HashMap::from([("org_id".to_string(), "acme".to_string())]);
    let oldest = CreateCustomer::new().metadata(org.clone()).send(&stripe).await.unwrap();
    api.standin.advance_clock(60);
    CreateCustomer::new().metadata(org).send(&stripe).await.unwrap();

    let reply = api.post_json("/billing/credits/checkout", &token, r#"{"quantity":1}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(api.calls("POST", CUSTOMERS).iter().all(|r| r.idempotency_key.is_none()), "the API made no customer");
    assert_eq!(bound_customer(&api, "acme").await.as_deref(), Some(oldest.id.as_str()));
    assert_eq!(api.calls("POST", "/v1/checkout/sessions")[0].params["customer"], oldest.id.as_str());
}
