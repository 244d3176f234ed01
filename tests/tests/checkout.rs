//! `POST /billing/checkout` against DynamoDB Local and the offline Stripe stand-in: the exact
//! Stripe requests made, every bad input, Stripe failures, and the two-tab race.

use billing_shared::domain::org::SubscriptionStatus;
use billing_tests::stripe::{StripeTestApi, api_with_stripe_down};
use billing_tests::{assert_envelope, json};

const SESSIONS: &str = "/v1/checkout/sessions";
const CUSTOMERS: &str = "/v1/customers";
const SEARCH: &str = "/v1/customers/search";

#[tokio::test]
async fn checkout_creates_customer_and_session_with_catalog_price_and_metadata() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let reply = api.post_json("/billing/checkout", &token, r#"{"plan":"pro","interval":"year"}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let session_id = reply.body["session_id"].as_str().unwrap().to_string();
    assert!(session_id.starts_with("cs_"));
    assert!(reply.body["url"].as_str().unwrap().contains(&session_id));

    let customers = api.calls("POST", CUSTOMERS);
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0].params["metadata"]["org_id"], "acme");
    assert!(customers[0].idempotency_key.is_some());

    let sessions = api.calls("POST", SESSIONS);
    assert_eq!(sessions.len(), 1);
    let params = &sessions[0].params;
    assert_eq!(params["mode"], "subscription");
    assert_eq!(params["line_items"]["0"]["price"], "price_pro_annual");
    assert_eq!(params["line_items"]["0"]["quantity"], "1");
    assert_eq!(params["client_reference_id"], "acme");
    assert_eq!(params["metadata"]["org_id"], "acme");
    assert_eq!(params["subscription_data"]["metadata"]["org_id"], "acme");
    assert_eq!(params["success_url"], "https://app.example.com/billing/done?session={CHECKOUT_SESSION_ID}");
    assert_eq!(params["cancel_url"], "https://app.example.com/billing");
    assert!(params["customer"].as_str().unwrap().starts_with("cus_"));
    assert!(sessions[0].idempotency_key.is_some());

    let org = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!(org.stripe_customer_id.as_deref(), params["customer"].as_str());
    assert_eq!(org.pending_checkout.unwrap().session_id, session_id);
    assert_eq!(org.plan, "free", "the plan changes when Stripe confirms payment, not at checkout");
}

#[tokio::test]
async fn per_unit_plan_sends_the_quantity_and_urls_given() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let body = json!({
        "plan": "scale", "interval": "month", "quantity": 5,
        "success_url": "https://app.example.com/ok", "cancel_url": "https://app.example.com/no"
    });
    let reply = api.post_json("/billing/checkout", &token, &body.to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let params = &api.calls("POST", SESSIONS)[0].params;
    assert_eq!(params["line_items"]["0"]["price"], "price_scale_monthly");
    assert_eq!(params["line_items"]["0"]["quantity"], "5");
    assert_eq!(params["success_url"], "https://app.example.com/ok");
    assert_eq!(params["cancel_url"], "https://app.example.com/no");
}

#[tokio::test]
async fn bad_input_is_4xx_with_the_envelope_no_stripe_call_and_no_write() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let before = api.items().await;
    let cases: &[(&str, u16, &str, Option<&str>)] = &[
        (r#"{"plan":"gold","interval":"month"}"#, 400, "validation_failed", Some("plan")),
        (r#"{"plan":"free","interval":"month"}"#, 400, "validation_failed", Some("plan")),
        (r#"{"plan":"pro","interval":"week"}"#, 400, "validation_failed", Some("interval")),
        (r#"{"plan":"pro","interval":"month","price":"price_cheap"}"#, 400, "validation_failed", Some("price")),
        (r#"{"plan":"pro","interval":"month","price_id":"price_cheap"}"#, 400, "validation_failed", Some("price_id")),
        (r#"{"plan":"pro","interval":"month","product":"prod_x"}"#, 400, "validation_failed", Some("product")),
        (r#"{"plan":"pro","interval":"month","quantity":2}"#, 400, "validation_failed", Some("quantity")),
        (r#"{"plan":"scale","interval":"month","quantity":0}"#, 400, "validation_failed", Some("quantity")),
        (r#"{"plan":"scale","interval":"month","quantity":101}"#, 400, "validation_failed", Some("quantity")),
        (r#"{"plan":"scale","interval":"month","quantity":-3}"#, 400, "validation_failed", Some("quantity")),
        (r#"{"plan":"scale","interval":"month","quantity":"5"}"#, 400, "validation_failed", Some("quantity")),
        (r#"{"plan":"pro","interval":"month","success_url":"https://evil.example.com/"}"#, 400, "validation_failed", Some("success_url")),
        (r#"{"plan":"pro","interval":"month","cancel_url":"javascript:alert(1)"}"#, 400, "validation_failed", Some("cancel_url")),
        (r#"{"plan":"pro","interval":"month","colour":"red"}"#, 400, "validation_failed", Some("colour")),
        (r#"{"interval":"month"}"#, 400, "validation_failed", Some("plan")),
        (r#"{"plan":"pro","interval":"month""#, 400, "malformed_json", None),
        (r#"["pro"]"#, 400, "validation_failed", None),
        ("", 400, "validation_failed", Some("plan")),
    ];
    for (body, status, error, field) in cases {
        let reply = api.post_json("/billing/checkout", &token, body).await;
        assert_envelope(&reply, *status, error);
        if let Some(field) = field {
            let fields: Vec<_> =
                reply.body["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect();
            assert!(fields.contains(&field.to_string()), "{body}: {}", reply.body);
        }
    }
    let text = http::Request::builder()
        .method("POST")
        .uri("/billing/checkout")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/plain")
        .body(br#"{"plan":"pro","interval":"month"}"#.to_vec())
        .unwrap();
    assert_envelope(&api.request(text).await, 415, "unsupported_media_type");
    let huge = format!(r#"{{"plan":"pro","interval":"month","success_url":"https://app.example.com/{}"}}"#, "a".repeat(20_000));
    assert_envelope(&api.post_json("/billing/checkout", &token, &huge).await, 413, "payload_too_large");

    assert!(api.standin.requests().is_empty(), "no Stripe call for bad input: {:?}", api.standin.requests());
    assert_eq!(api.items().await, before, "nothing written for bad input");
}

#[tokio::test]
async fn per_unit_quantity_below_the_plans_minimum_is_refused() {
    let dir = std::env::temp_dir().join(format!("catalog-{}", billing_tests::unique_table()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut catalog: serde_json::Value = serde_json::from_str(include_str!("../../shared/plans.json")).unwrap();
    catalog["plans"][2]["per_unit"]["min_quantity"] = json!(3);
    let path = dir.join("plans.json");
    std::fs::write(&path, catalog.to_string()).unwrap();

    let api = StripeTestApi::with_config(&[("CATALOG_FILE", path.to_str().unwrap())]).await;
    let token = api.org_with_key("acme").await;
    let reply = api.post_json("/billing/checkout", &token, r#"{"plan":"scale","interval":"month","quantity":2}"#).await;
    assert_envelope(&reply, 400, "validation_failed");
    assert_eq!(reply.body["details"]["fields"][0]["problem"], "must be 3 to 100 servers");
    let reply = api.post_json("/billing/checkout", &token, r#"{"plan":"scale","interval":"month"}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(api.calls("POST", SESSIONS)[0].params["line_items"]["0"]["quantity"], "3", "the minimum is the default");
}

#[tokio::test]
async fn live_subscription_is_409_without_calling_stripe() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    for status in [SubscriptionStatus::Active, SubscriptionStatus::Trialing, SubscriptionStatus::PastDue, SubscriptionStatus::Incomplete] {
        let mut org = api.app.store.get_org("acme").await.unwrap().unwrap();
        org.status = status;
        org.plan = "pro".into();
        api.app.store.save_org(&mut org).await.unwrap();
        let reply = api.post_json("/billing/checkout", &token, r#"{"plan":"scale","interval":"month"}"#).await;
        assert_envelope(&reply, 409, "subscription_exists");
    }
    assert!(api.standin.requests().is_empty());
}

#[tokio::test]
async fn same_request_again_returns_the_same_session_and_another_is_409() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let body = r#"{"plan":"pro","interval":"month"}"#;
    let first = api.post_json("/billing/checkout", &token, body).await;
    let again = api.post_json("/billing/checkout", &token, body).await;
    assert_eq!((first.status, again.status), (200, 200));
    assert_eq!(first.body["session_id"], again.body["session_id"]);
    assert_eq!(api.calls("POST", SESSIONS).len(), 1, "the open session is reused without a Stripe call");

    let other = api.post_json("/billing/checkout", &token, r#"{"plan":"scale","interval":"year"}"#).await;
    assert_envelope(&other, 409, "checkout_in_progress");
    assert_eq!(other.body["details"]["session_id"], first.body["session_id"]);
    assert_eq!(api.calls("POST", SESSIONS).len(), 1);
}

#[tokio::test]
async fn two_tabs_racing_get_one_session_and_one_customer() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let body = r#"{"plan":"pro","interval":"month"}"#;
    let (a, b) = tokio::join!(api.post_json("/billing/checkout", &token, body), api.post_json("/billing/checkout", &token, body));
    assert_eq!((a.status, b.status), (200, 200), "{} {}", a.body, b.body);
    assert_eq!(a.body["session_id"], b.body["session_id"], "one session for both tabs");
    let created: std::collections::BTreeSet<_> =
        api.calls("POST", SESSIONS).iter().filter(|r| !r.replayed).map(|r| r.idempotency_key.clone()).collect();
    assert_eq!(created.len(), 1, "Stripe made one session");
    let customers: std::collections::BTreeSet<_> =
        api.calls("POST", CUSTOMERS).iter().filter(|r| !r.replayed).map(|r| r.idempotency_key.clone()).collect();
    assert_eq!(customers.len(), 1, "Stripe made one customer");

    let third = api.post_json("/billing/checkout", &token, r#"{"plan":"scale","interval":"month"}"#).await;
    assert_envelope(&third, 409, "checkout_in_progress");
}

#[tokio::test]
async fn two_tabs_racing_for_different_plans_get_one_session_and_one_409() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let (a, b) = tokio::join!(
        api.post_json("/billing/checkout", &token, r#"{"plan":"pro","interval":"month"}"#),
        api.post_json("/billing/checkout", &token, r#"{"plan":"scale","interval":"year"}"#),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} {}", a.body, b.body);
    let winner = if a.status == 200 { &a } else { &b };
    let org = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!(org.pending_checkout.unwrap().session_id, winner.body["session_id"].as_str().unwrap());
    // A session the loser created is expired, so only the recorded one can be paid.
    let requests = api.standin.requests();
    let created = requests.iter().filter(|r| r.method == "POST" && r.path == SESSIONS && !r.replayed).count();
    let expired: Vec<_> = requests.iter().filter(|r| r.path.ends_with("/expire")).map(|r| r.path.clone()).collect();
    assert_eq!(created - expired.len(), 1, "created {created}, expired {expired:?}");
    assert!(!expired.iter().any(|p| p.contains(winner.body["session_id"].as_str().unwrap())), "the handed-out session is never expired");
}

#[tokio::test]
async fn stripe_500_is_retried_then_502_and_nothing_written() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let before = api.items().await;
    api.standin.fail_next(3, 500);
    let reply = api.post_json("/billing/checkout", &token, r#"{"plan":"pro","interval":"month"}"#).await;
    assert_envelope(&reply, 502, "stripe_error");
    assert_eq!(reply.body["details"]["stripe_status"], 500);
    let stripe_request_id = reply.body["details"]["stripe_request_id"].as_str().expect("Stripe's request id");
    assert!(api.standin.requests().iter().any(|r| r.request_id == stripe_request_id), "it names a request Stripe saw");
    // The first call, looking for a customer already made for the org, is the one failing.
    let attempts = api.calls("GET", SEARCH);
    assert_eq!(attempts.len(), 3, "three attempts");
    assert!(api.calls("POST", CUSTOMERS).is_empty(), "no customer is made without knowing there is none");
    assert_eq!(api.items().await, before);

    api.standin.fail_next(1, 503);
    let reply = api.post_json("/billing/checkout", &token, r#"{"plan":"pro","interval":"month"}"#).await;
    assert_eq!(reply.status, 200, "a transient failure is retried away: {}", reply.body);
}

#[tokio::test]
async fn stripe_down_is_502_and_nothing_written() {
    let api = api_with_stripe_down().await;
    let token = api.org_with_key("acme").await;
    let before = api.items().await;
    let reply = api.post_json("/billing/checkout", &token, r#"{"plan":"pro","interval":"month"}"#).await;
    assert_envelope(&reply, 502, "stripe_error");
    assert_eq!(api.items().await, before);
}

#[tokio::test]
async fn each_org_gets_its_own_customer_and_session() {
    let api = StripeTestApi::new().await;
    let acme = api.org_with_key("acme").await;
    let globex = api.org_with_key("globex").await;
    let body = r#"{"plan":"pro","interval":"month"}"#;
    let a = api.post_json("/billing/checkout", &acme, body).await;
    let g = api.post_json("/billing/checkout", &globex, body).await;
    assert_eq!((a.status, g.status), (200, 200));
    assert_ne!(a.body["session_id"], g.body["session_id"]);
    let acme_org = api.app.store.get_org("acme").await.unwrap().unwrap();
    let globex_org = api.app.store.get_org("globex").await.unwrap().unwrap();
    assert_ne!(acme_org.stripe_customer_id, globex_org.stripe_customer_id);
}
