//! Stripe webhooks end to end: Checkout -> Pay on the stand-in -> signed delivery -> the org's
//! state; duplicates, concurrency, out-of-order delivery, bad signatures, write failures.

use billing_shared::App;
use billing_shared::config::aws_sdk_config;
use billing_shared::domain::org::SubscriptionStatus;
use billing_tests::stripe::{StripeTestApi, WEBHOOK_SECRET};
use billing_tests::{TestApi, assert_envelope, json, test_config};
use stripe_billing::subscription::{CancelSubscription, UpdateSubscription};

async fn checkout(api: &StripeTestApi, token: &str, body: &str) -> String {
    let reply = api.post_json("/billing/checkout", token, body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["session_id"].as_str().unwrap().to_string()
}

async fn buy_credits(api: &StripeTestApi, token: &str, bundles: u32) -> String {
    let reply = api.post_json("/billing/credits/checkout", token, &json!({"quantity": bundles}).to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["session_id"].as_str().unwrap().to_string()
}

fn assert_all_deliveries_ok(api: &StripeTestApi) {
    let deliveries = api.standin.deliveries();
    assert!(!deliveries.is_empty());
    for d in &deliveries {
        assert_eq!(d.status, Some(200), "{d:?}");
    }
}

#[tokio::test]
async fn paid_subscription_checkout_shows_plan_caps_and_card() {
    let api = StripeTestApi::with_webhooks().await;
    let token = api.org_with_key("acme").await;
    let session = checkout(&api, &token, r#"{"plan":"scale","interval":"month","quantity":4}"#).await;
    api.standin.pay_checkout(&session).await.unwrap();
    api.standin.webhooks_settled().await;
    assert_all_deliveries_ok(&api);

    let body = api.get("/billing", Some(&token)).await.body;
    assert_eq!(body["plan"], "scale");
    assert_eq!(body["effective_plan"], "scale");
    assert_eq!(body["status"], "active");
    assert_eq!(body["interval"], "month");
    assert_eq!(body["quantity"], 4);
    assert_eq!(body["card"]["last4"], "4242");
    assert!(body["current_period_end"].as_i64().unwrap() > billing_shared::now());
    let servers = body["limits"].as_array().unwrap().iter().find(|l| l["resource"] == "servers").unwrap().clone();
    assert_eq!(servers["cap"], 4);
    let org = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert!(org.pending_checkout.is_none(), "the finished checkout no longer blocks");
    assert!(org.stripe_subscription_id.is_some());

    let again = api.post_json("/billing/checkout", &token, r#"{"plan":"pro","interval":"month"}"#).await;
    assert_envelope(&again, 409, "subscription_exists");
}

#[tokio::test]
async fn credits_land_once_however_often_and_concurrently_delivered() {
    let api = StripeTestApi::with_webhooks().await;
    let token = api.org_with_key("acme").await;
    let session = buy_credits(&api, &token, 3).await;
    api.standin.pay_checkout(&session).await.unwrap();
    api.standin.webhooks_settled().await;
    assert_all_deliveries_ok(&api);
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 300);

    let completed = api.events_of("checkout.session.completed");
    assert_eq!(completed.len(), 1);
    let event_id: String = serde_json::from_str::<serde_json::Value>(&completed[0]).unwrap()["id"].as_str().unwrap().into();
    let redeliveries: Vec<_> = (0..6).map(|_| api.standin.redeliver(&event_id)).collect();
    for result in futures::future::join_all(redeliveries).await {
        result.unwrap();
    }
    api.standin.webhooks_settled().await;
    let replies = futures::future::join_all((0..6).map(|_| api.deliver(&completed[0], WEBHOOK_SECRET, None))).await;
    assert!(replies.iter().all(|r| r.status == 200), "duplicates are acknowledged");
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 300, "granted exactly once");

    // The grant's marker never expires (the success page may ask about the session any time);
    // event markers do.
    let items = api.items().await;
    let marker = |prefix: &str| items.iter().find(|i| i["PK"].as_s().unwrap().starts_with(prefix)).cloned().unwrap();
    assert!(!marker("CREDITS#").contains_key("expires_at"));
    assert!(marker("EVENT#").contains_key("expires_at"));

    // The success page's eager sync of the same session grants nothing more.
    let synced = api.get(&format!("/billing/checkout/{session}"), Some(&token)).await;
    assert_eq!(synced.status, 200, "{}", synced.body);
    assert_eq!(synced.body["billing"]["credits"], 300);
}

#[tokio::test]
async fn every_event_delivered_twice_and_concurrently_has_one_effect() {
    let api = StripeTestApi::with_webhooks().await;
    let token = api.org_with_key("acme").await;
    let session = checkout(&api, &token, r#"{"plan":"pro","interval":"year"}"#).await;
    api.standin.pay_checkout(&session).await.unwrap();
    let credits = buy_credits(&api, &token, 2).await;
    api.standin.pay_checkout(&credits).await.unwrap();
    api.standin.webhooks_settled().await;
    let settled = api.app.store.get_org("acme").await.unwrap().unwrap();

    let events: Vec<String> = api.standin.events().into_iter().map(|e| e.to_string()).collect();
    assert!(events.len() >= 4);
    let all = events.iter().flat_map(|e| [e, e]).map(|e| api.deliver(e, WEBHOOK_SECRET, None));
    let replies = futures::future::join_all(all).await;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
        let outcome = reply.body["outcome"].as_str().unwrap();
        assert!(outcome == "duplicate" || outcome.starts_with("ignored"), "{}", reply.body);
    }
    assert!(replies.iter().filter(|r| r.body["outcome"] == "duplicate").count() >= 8, "the acted-on events were recognised");
    let after = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!((after.credits, after.plan.as_str(), after.status), (200, "pro", SubscriptionStatus::Active));
    assert_eq!(after.version, settled.version, "nothing was written again");
}

#[tokio::test]
async fn out_of_order_and_stale_events_leave_the_newest_state() {
    let api = StripeTestApi::new().await; // no automatic delivery: this test orders them
    let token = api.org_with_key("acme").await;
    let session = checkout(&api, &token, r#"{"plan":"pro","interval":"month"}"#).await;
    api.standin.pay_checkout(&session).await.unwrap();
    let subscription_id =
        api.standin.events().iter().find(|e| e["type"] == "customer.subscription.created").unwrap()["data"]["object"]["id"]
            .as_str()
            .unwrap()
            .to_string();
    UpdateSubscription::new(subscription_id.as_str()).cancel_at_period_end(true).send(&api.stripe_client()).await.unwrap();
    let created = api.events_of("customer.subscription.created").remove(0);
    let updated = api.events_of("customer.subscription.updated").pop().expect("an updated event");

    // `updated` (newer) arrives before `created` (older).
    assert_eq!(api.deliver(&updated, WEBHOOK_SECRET, None).await.body["outcome"], "applied");
    assert_eq!(api.deliver(&created, WEBHOOK_SECRET, None).await.body["outcome"], "applied");
    let body = api.get("/billing", Some(&token)).await.body;
    assert_eq!((body["plan"].as_str(), body["status"].as_str()), (Some("pro"), Some("active")));
    assert_eq!(body["cancel_at_period_end"], true, "the older event did not undo the newer state");
    assert_eq!(body["scheduled_change"]["plan"], "free");

    // The customer resumes; then an old `updated` (cancel at period end) is delivered late.
    UpdateSubscription::new(subscription_id.as_str()).cancel_at_period_end(false).send(&api.stripe_client()).await.unwrap();
    let resumed = api.events_of("customer.subscription.updated").pop().unwrap();
    assert_eq!(api.deliver(&resumed, WEBHOOK_SECRET, None).await.body["outcome"], "applied");
    let stale = api.events_of("customer.subscription.updated").remove(0);
    let reply = api.deliver(&stale, WEBHOOK_SECRET, None).await;
    assert_eq!(reply.status, 200);
    let body = api.get("/billing", Some(&token)).await.body;
    assert_eq!(body["cancel_at_period_end"], false, "a stale event never overwrites newer state");
    assert_eq!(body["scheduled_change"], json!(null));
}

#[tokio::test]
async fn failed_renewal_is_past_due_with_grace_then_cancellation_falls_back_to_free() {
    let api = StripeTestApi::with_webhooks().await;
    let token = api.org_with_key("acme").await;
    let session = checkout(&api, &token, r#"{"plan":"pro","interval":"month"}"#).await;
    api.standin.pay_checkout(&session).await.unwrap();
    api.standin.webhooks_settled().await;
    let subscription_id = api.app.store.get_org("acme").await.unwrap().unwrap().stripe_subscription_id.unwrap();

    api.standin.advance_period(&subscription_id, false).await.unwrap();
    api.standin.webhooks_settled().await;
    let body = api.get("/billing", Some(&token)).await.body;
    assert_eq!(body["status"], "past_due");
    assert_eq!(body["effective_plan"], "pro", "paid caps during the grace period");
    assert!(body["last_payment_error"].as_str().unwrap().contains("failed"));

    api.standin.advance_period(&subscription_id, true).await.unwrap();
    api.standin.webhooks_settled().await;
    let body = api.get("/billing", Some(&token)).await.body;
    assert_eq!((body["status"].as_str(), body["last_payment_error"].as_str()), (Some("active"), None));

    UpdateSubscription::new(subscription_id.as_str()).cancel_at_period_end(true).send(&api.stripe_client()).await.unwrap();
    api.standin.advance_period(&subscription_id, true).await.unwrap();
    api.standin.webhooks_settled().await;
    assert_all_deliveries_ok(&api);
    let body = api.get("/billing", Some(&token)).await.body;
    assert_eq!((body["plan"].as_str(), body["status"].as_str()), (Some("free"), Some("canceled")));
    assert_eq!(body["limits"][0]["cap"], 1);
}

#[tokio::test]
async fn bad_signatures_are_400_and_write_nothing_and_the_rotated_secret_works() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let session = buy_credits(&api, &token, 1).await;
    api.standin.pay_checkout(&session).await.unwrap();
    let event = api.events_of("checkout.session.completed").remove(0);
    let before = api.items().await;

    let tampered = event.replace("\"100\"", "\"100000\"");
    assert_ne!(tampered, event);
    let signature = stripe_webhook::Webhook::generate_test_header(&event, WEBHOOK_SECRET, None);
    let post = |body: String, signature: Option<String>| {
        let mut req = http::Request::builder().method("POST").uri("/stripe/webhook").header("content-type", "application/json");
        if let Some(s) = signature {
            req = req.header("stripe-signature", s);
        }
        api.request(req.body(body.into_bytes()).unwrap())
    };
    assert_envelope(&post(tampered, Some(signature.clone())).await, 400, "invalid_signature");
    assert_envelope(&api.deliver(&event, "whsec_wrong", None).await, 400, "invalid_signature");
    assert_envelope(&api.deliver(&event, WEBHOOK_SECRET, Some(billing_shared::now() - 600)).await, 400, "invalid_signature");
    assert_envelope(&post(event.clone(), None).await, 400, "invalid_signature");
    assert_envelope(&post(event.clone(), Some("t=abc,v1=zz".into())).await, 400, "invalid_signature");
    assert_envelope(&api.deliver("{not json", WEBHOOK_SECRET, None).await, 400, "malformed_json");
    assert_eq!(api.items().await, before, "nothing written for a refused delivery");
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 0);

    // During a rotation both secrets are accepted.
    let mut app = api.app.clone();
    app.webhook_secrets = vec!["whsec_new".into(), WEBHOOK_SECRET.into()];
    let rotating = TestApi::over(app);
    let signature = stripe_webhook::Webhook::generate_test_header(&event, WEBHOOK_SECRET, None);
    let req = http::Request::builder()
        .method("POST")
        .uri("/stripe/webhook")
        .header("stripe-signature", signature)
        .body(event.into_bytes())
        .unwrap();
    let reply = rotating.request(req).await;
    assert_eq!((reply.status, reply.body["outcome"].as_str()), (200, Some("applied")), "{}", reply.body);
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 100);
}

#[tokio::test]
async fn a_base64_encoded_delivery_is_verified_on_its_decoded_bytes() {
    use base64::Engine;
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let session = buy_credits(&api, &token, 1).await;
    api.standin.pay_checkout(&session).await.unwrap();
    let event = api.events_of("checkout.session.completed").remove(0);
    let signature = stripe_webhook::Webhook::generate_test_header(&event, WEBHOOK_SECRET, None);
    // API Gateway's payload 2.0 event as it arrives for a body it chose to base64-encode.
    let lambda_event = json!({
        "version": "2.0", "routeKey": "POST /stripe/webhook", "rawPath": "/stripe/webhook", "rawQueryString": "",
        "headers": {"stripe-signature": signature, "content-type": "application/json; charset=utf-8"},
        "requestContext": {"accountId": "1", "apiId": "a", "domainName": "x", "domainPrefix": "x", "requestId": "r-64",
            "routeKey": "POST /stripe/webhook", "stage": "$default", "time": "", "timeEpoch": 0,
            "http": {"method": "POST", "path": "/stripe/webhook", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "Stripe/1.0"}},
        "body": base64::engine::general_purpose::STANDARD.encode(&event),
        "isBase64Encoded": true,
    });
    let req = lambda_http::request::from_str(&lambda_event.to_string()).unwrap();
    let response = billing_functions::stripe_webhook::handle(&api.app, req).await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 100);
}

#[tokio::test]
async fn a_deleted_customer_falls_back_to_free() {
    let api = StripeTestApi::with_webhooks().await;
    let token = api.org_with_key("acme").await;
    let session = checkout(&api, &token, r#"{"plan":"pro","interval":"month"}"#).await;
    api.standin.pay_checkout(&session).await.unwrap();
    api.standin.webhooks_settled().await;
    let customer = api.app.store.get_org("acme").await.unwrap().unwrap().stripe_customer_id.unwrap();
    let deleted = json!({"id": "evt_customer_deleted", "object": "event", "type": "customer.deleted", "created": 1,
        "data": {"object": {"id": customer, "object": "customer"}}});
    assert_eq!(api.deliver(&deleted.to_string(), WEBHOOK_SECRET, None).await.body["outcome"], "applied");
    let body = api.get("/billing", Some(&token)).await.body;
    assert_eq!((body["plan"].as_str(), body["status"].as_str(), body["card"].is_null()), (Some("free"), Some("canceled"), true));
    assert!(api.app.store.get_org("acme").await.unwrap().unwrap().stripe_customer_id.is_none());
}

#[tokio::test]
async fn an_event_naming_another_customers_subscription_changes_nothing() {
    let api = StripeTestApi::with_webhooks().await;
    let acme = api.org_with_key("acme").await;
    let globex = api.org_with_key("globex").await;
    let session = checkout(&api, &acme, r#"{"plan":"pro","interval":"month"}"#).await;
    api.standin.pay_checkout(&session).await.unwrap();
    let credits = buy_credits(&api, &globex, 1).await;
    api.standin.pay_checkout(&credits).await.unwrap();
    api.standin.webhooks_settled().await;
    let acme_subscription = api.app.store.get_org("acme").await.unwrap().unwrap().stripe_subscription_id.unwrap();
    let globex_customer = api.app.store.get_org("globex").await.unwrap().unwrap().stripe_customer_id.unwrap();
    let before = api.app.store.get_org("globex").await.unwrap().unwrap();

    let crossed = json!({"id": "evt_crossed", "object": "event", "type": "customer.subscription.updated", "created": 1,
        "data": {"object": {"id": acme_subscription, "object": "subscription", "customer": globex_customer}}});
    let reply = api.deliver(&crossed.to_string(), WEBHOOK_SECRET, None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["outcome"].as_str().unwrap().starts_with("ignored"), "{}", reply.body);
    assert_eq!(api.app.store.get_org("globex").await.unwrap().unwrap(), before);
    assert_eq!(api.get("/billing", Some(&globex)).await.body["plan"], "free");
}

#[tokio::test]
async fn an_ended_subscription_never_undoes_its_replacement() {
    let api = StripeTestApi::with_webhooks().await;
    let token = api.org_with_key("acme").await;
    let first = checkout(&api, &token, r#"{"plan":"scale","interval":"month"}"#).await;
    api.standin.pay_checkout(&first).await.unwrap();
    api.standin.webhooks_settled().await;
    let old_subscription = api.app.store.get_org("acme").await.unwrap().unwrap().stripe_subscription_id.unwrap();
    CancelSubscription::new(old_subscription.as_str()).send(&api.stripe_client()).await.unwrap();
    api.standin.webhooks_settled().await;
    assert_eq!(api.get("/billing", Some(&token)).await.body["plan"], "free");

    let second = checkout(&api, &token, r#"{"plan":"pro","interval":"month"}"#).await;
    api.standin.pay_checkout(&second).await.unwrap();
    api.standin.webhooks_settled().await;
    let current = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!((current.plan.as_str(), current.status), ("pro", SubscriptionStatus::Active));

    // The old subscription's events arrive again, and its old success page is reloaded.
    for event in api.standin.events().iter().filter(|e| e["data"]["object"]["id"] == old_subscription.as_str()) {
        assert_eq!(api.deliver(&event.to_string(), WEBHOOK_SECRET, None).await.status, 200);
    }
    assert_eq!(api.get(&format!("/billing/checkout/{first}"), Some(&token)).await.status, 200);
    let after = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!((after.plan.as_str(), after.status), ("pro", SubscriptionStatus::Active));
    assert_eq!(after.stripe_subscription_id, current.stripe_subscription_id);
    assert_envelope(&api.post_json("/billing/checkout", &token, r#"{"plan":"scale","interval":"year"}"#).await, 409, "subscription_exists");
}

#[tokio::test]
async fn unknown_customers_and_irrelevant_events_are_acknowledged_without_writes() {
    let api = StripeTestApi::new().await;
    api.org_with_key("acme").await;
    let before = api.items().await;
    let foreign = json!({"id": "evt_foreign", "object": "event", "type": "customer.subscription.updated", "created": 1,
        "data": {"object": {"id": "sub_x", "object": "subscription", "customer": "cus_nobody"}}});
    let reply = api.deliver(&foreign.to_string(), WEBHOOK_SECRET, None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["outcome"].as_str().unwrap().starts_with("ignored"), "{}", reply.body);
    let irrelevant = json!({"id": "evt_other", "object": "event", "type": "charge.refunded", "created": 1,
        "data": {"object": {"id": "ch_1", "object": "charge", "customer": "cus_nobody"}}});
    let reply = api.deliver(&irrelevant.to_string(), WEBHOOK_SECRET, None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["outcome"].as_str().unwrap().starts_with("ignored"));
    assert_eq!(api.items().await, before);
}

#[tokio::test]
async fn a_failed_write_is_5xx_and_the_redelivery_completes_it_once() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let session = buy_credits(&api, &token, 2).await;
    api.standin.pay_checkout(&session).await.unwrap();
    let event = api.events_of("checkout.session.completed").remove(0);

    // Same Stripe, a table that cannot be written: the delivery fails with 5xx for Stripe to retry.
    let mut broken = App::new(test_config("table-that-does-not-exist"), aws_sdk_config().await);
    broken.webhook_secrets = vec![WEBHOOK_SECRET.into()];
    let broken = TestApi::over(broken);
    let signature = stripe_webhook::Webhook::generate_test_header(&event, WEBHOOK_SECRET, None);
    let req = http::Request::builder()
        .method("POST")
        .uri("/stripe/webhook")
        .header("stripe-signature", signature)
        .body(event.clone().into_bytes())
        .unwrap();
    let reply = broken.request(req).await;
    assert!(reply.status >= 500, "{}", reply.body);
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 0);

    let first = api.deliver(&event, WEBHOOK_SECRET, None).await;
    assert_eq!(first.body["outcome"], "applied");
    let second = api.deliver(&event, WEBHOOK_SECRET, None).await;
    assert_eq!(second.body["outcome"], "duplicate");
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 200);
}

#[tokio::test]
async fn success_page_sync_beats_the_webhook_and_stays_within_the_org() {
    let api = StripeTestApi::new().await; // webhooks not delivered: the redirect comes first
    let token = api.org_with_key("acme").await;
    let other = api.org_with_key("globex").await;
    let session = checkout(&api, &token, r#"{"plan":"pro","interval":"month"}"#).await;

    let open = api.get(&format!("/billing/checkout/{session}"), Some(&token)).await;
    assert_eq!(open.status, 200, "{}", open.body);
    assert_eq!((open.body["complete"].as_bool(), open.body["billing"]["plan"].as_str()), (Some(false), Some("free")));

    api.standin.pay_checkout(&session).await.unwrap();
    let done = api.get(&format!("/billing/checkout/{session}"), Some(&token)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["complete"], true);
    assert_eq!(done.body["billing"]["plan"], "pro");
    assert_eq!(done.body["billing"]["status"], "active");

    // Another org cannot read or sync it; an unknown or malformed id is not found / refused.
    assert_envelope(&api.get(&format!("/billing/checkout/{session}"), Some(&other)).await, 404, "not_found");
    assert_envelope(&api.get("/billing/checkout/cs_test_unknown", Some(&token)).await, 404, "not_found");
    assert_envelope(&api.get("/billing/checkout/in_123", Some(&token)).await, 400, "validation_failed");

    // The webhook arriving afterwards agrees.
    for event in api.standin.events().iter().map(|e| e.to_string()) {
        assert_eq!(api.deliver(&event, WEBHOOK_SECRET, None).await.status, 200);
    }
    let body = api.get("/billing", Some(&token)).await.body;
    assert_eq!((body["plan"].as_str(), body["status"].as_str()), (Some("pro"), Some("active")));
}
