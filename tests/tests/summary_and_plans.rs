//! `GET /billing` and `GET /billing/plans` bodies, and what they do when storage fails.

use billing_shared::domain::catalog::{Interval, Resource};
use billing_shared::domain::org::{Card, SubscriptionStatus};
use billing_shared::store::{Counted, Delta};
use billing_shared::{App, now};
use billing_tests::{TestApi, assert_envelope, json, test_config};

#[tokio::test]
async fn new_org_is_free_with_free_caps() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let reply = api.get("/billing", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.body;
    assert_eq!(body["plan"], "free");
    assert_eq!(body["effective_plan"], "free");
    assert_eq!(body["status"], "none");
    assert_eq!(body["price"], json!(null));
    assert_eq!(body["credits"], 0);
    assert_eq!(body["card"], json!(null));
    let limits = body["limits"].as_array().unwrap();
    assert_eq!(limits.len(), Resource::ALL.len());
    assert_eq!(limits[0], json!({"resource": "agents", "active": 0, "cap": 1}));
}

#[tokio::test]
async fn paid_org_shows_plan_price_period_card_credits_and_usage() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let mut org = api.app.store.get_org("acme").await.unwrap().unwrap();
    org.plan = "scale".into();
    org.status = SubscriptionStatus::Active;
    org.interval = Some(Interval::Year);
    org.quantity = 4;
    org.current_period_end = Some(now() + 86_400);
    org.cancel_at_period_end = true;
    org.card = Some(Card { brand: "visa".into(), last4: "4242".into(), exp_month: 12, exp_year: 2030 });
    org.credits = 300;
    api.app.store.save_org(&mut org).await.unwrap();
    // Usage is counted by reservations, never by a whole-org write.
    let counted = api.app.store.count_usage("acme", Resource::Servers, Delta::Reserve(3), now()).await.unwrap();
    assert!(matches!(counted, Counted::Done(ref org) if org.usage_of(Resource::Servers) == 3), "{counted:?}");

    let body = api.get("/billing", Some(&token)).await.body;
    assert_eq!(body["plan"], "scale");
    assert_eq!(body["plan_name"], "Scale");
    assert_eq!(body["status"], "active");
    assert_eq!(body["price"], json!({"amount": 4 * 49000, "currency": "usd", "interval": "year", "quantity": 4}));
    assert_eq!(body["current_period_end"], org.current_period_end.unwrap());
    assert_eq!(body["cancel_at_period_end"], true);
    assert_eq!(body["card"], json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}));
    assert_eq!(body["credits"], 300);
    let servers = body["limits"].as_array().unwrap().iter().find(|l| l["resource"] == "servers").unwrap().clone();
    assert_eq!(servers, json!({"resource": "servers", "active": 3, "cap": 4}));
}

#[tokio::test]
async fn past_due_beyond_grace_falls_back_to_free_caps() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let mut org = api.app.store.get_org("acme").await.unwrap().unwrap();
    org.plan = "pro".into();
    org.status = SubscriptionStatus::PastDue;
    org.past_due_since = Some(now() - 30 * 86_400);
    api.app.store.save_org(&mut org).await.unwrap();
    let body = api.get("/billing", Some(&token)).await.body;
    assert_eq!((body["plan"].as_str(), body["effective_plan"].as_str()), (Some("pro"), Some("free")));
    assert_eq!(body["limits"][0]["cap"], 1);
}

#[tokio::test]
async fn stale_version_write_is_a_conflict_and_changes_nothing() {
    let api = TestApi::new().await;
    api.create_org("acme").await;
    let mut first = api.app.store.get_org("acme").await.unwrap().unwrap();
    let mut second = first.clone();
    first.credits = 10;
    api.app.store.save_org(&mut first).await.unwrap();
    second.credits = 99;
    let err = api.app.store.save_org(&mut second).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(second.version, 0, "a failed write leaves the caller's version as read");
    assert_eq!(api.app.store.get_org("acme").await.unwrap().unwrap().credits, 10);
    assert!(api.app.store.create_org(&first).await.is_err(), "an org is created once");
}

#[tokio::test]
async fn plans_list_the_catalog_without_stripe_ids() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    let reply = api.get("/billing/plans", Some(&token)).await;
    assert_eq!(reply.status, 200);
    let plans = reply.body["plans"].as_array().unwrap();
    let ids: Vec<_> = plans.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["free", "pro", "scale"]);
    assert_eq!(plans[1]["monthly"], json!({"amount": 1900, "currency": "usd", "per_unit": false}));
    assert_eq!(plans[1]["annual"]["amount"], 19000);
    assert_eq!(plans[2]["monthly"], json!({"amount": 4900, "currency": "usd", "per_unit": true}));
    assert_eq!(plans[2]["per_unit"], json!({"resource": "servers", "min_quantity": 1, "max_quantity": 100}));
    assert_eq!(plans[0]["caps"]["agents"], 1);
    assert_eq!(plans[2]["caps"]["agents"], json!(null));
    assert_eq!(reply.body["credits"]["credits_per_bundle"], 100);
    assert!(!reply.body.to_string().contains("price_"));
    assert_envelope(&api.get("/billing/plans", None).await, 401, "unauthorized");
    assert_envelope(&api.get("/billing/plans?plan=pro", Some(&token)).await, 400, "validation_failed");
}

#[tokio::test]
async fn storage_failure_is_503_with_the_envelope() {
    // The table does not exist: every DynamoDB call fails, as in an outage.
    let api = TestApi::over(App::new(test_config("no-such-table"), billing_shared::config::aws_sdk_config().await));
    let token = billing_shared::domain::api_key::issue("acme", "alice", billing_shared::domain::principal::PrincipalKind::Human, now())
        .unwrap()
        .token;
    let reply = api.get("/billing", Some(&token)).await;
    assert_envelope(&reply, 503, "storage_unavailable");
    // With no key there is nothing to look up: still the plain 401.
    assert_envelope(&api.get("/billing", None).await, 401, "unauthorized");
}
