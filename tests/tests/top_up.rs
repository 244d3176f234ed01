//! Buying credits with the card on file (`"payment": "card_on_file"`): charged once, granted
//! once (by the answer or by the webhook, whichever comes first), a refused card answered with a
//! Checkout to pay with instead, and nothing for a bad body or an AGENT outside its mandate
//! (inside it: `tests/tests/mandates.rs`).

use billing_shared::domain::principal::PrincipalKind;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{Reply, assert_envelope, json};
use serde_json::Value;

const TOP_UP: &str = "/billing/credits/checkout";

/// An org `acme` with a Stripe customer (made by a first credits Checkout, left unpaid) whose
/// default card is Stripe's test payment method `card` (`None`: no card); its HUMAN key.
async fn org_with_card(api: &StripeTestApi, card: Option<&str>) -> String {
    let token = api.org_with_key("acme").await;
    let reply = api.post_json(TOP_UP, &token, r#"{"quantity":1}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    if let Some(card) = card {
        api.set_card("acme", card).await;
    }
    token
}

async fn top_up(api: &StripeTestApi, token: &str, quantity: u32, key: Option<&str>) -> Reply {
    let body = json!({"quantity": quantity, "payment": "card_on_file"}).to_string();
    match key {
        Some(key) => api.post_json_with(TOP_UP, token, &body, &[("idempotency-key", key)]).await,
        None => api.post_json(TOP_UP, token, &body).await,
    }
}

/// The PaymentIntents the API made at Stripe (Checkout's are made by paying a session).
fn payment_intents(api: &StripeTestApi) -> Vec<Value> {
    api.standin.payment_intents().into_iter().filter(|pi| pi["metadata"]["payment"] == "card_on_file").collect()
}

async fn credits(api: &StripeTestApi, token: &str) -> Value {
    let reply = api.get("/billing/credits", Some(token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn a_top_up_charges_the_card_on_file_and_grants_once() {
    let api = StripeTestApi::with_webhooks().await;
    let token = org_with_card(&api, Some("pm_card_visa")).await;
    let reply = top_up(&api, &token, 2, None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let pi = reply.body["payment_intent_id"].as_str().unwrap().to_string();
    assert_eq!(
        reply.body,
        json!({"status": "paid", "payment_intent_id": pi, "quantity": 2, "credits_granted": 200, "amount_charged": 2000,
               "currency": "usd", "balance": 200})
    );
    // Charged the catalog's price, off session, with what it is for.
    let charged = payment_intents(&api);
    assert_eq!(charged.len(), 1);
    assert_eq!(
        (charged[0]["id"].as_str(), charged[0]["amount"].as_u64(), charged[0]["status"].as_str()),
        (Some(pi.as_str()), Some(2000), Some("succeeded"))
    );
    // The buyer too, so that whichever of this answer and the webhook grants names them.
    let key_id = token.split('_').nth(1).unwrap();
    assert_eq!(
        charged[0]["metadata"],
        json!({"org_id": "acme", "purpose": "credits", "bundles": "2", "credits": "200", "payment": "card_on_file",
               "principal_id": "owner", "key_id": key_id, "principal_kind": "HUMAN"})
    );
    let request = &api.calls("POST", "/v1/payment_intents")[0];
    assert_eq!((request.params["off_session"].as_str(), request.params["confirm"].as_str()), (Some("true"), Some("true")));

    // The webhook's payment_intent.succeeded comes after the grant: a duplicate.
    api.standin.webhooks_settled().await;
    let page = credits(&api, &token).await;
    assert_eq!(page["balance"], 200);
    let grants: Vec<&Value> = page["data"].as_array().unwrap().iter().filter(|e| e["type"] == "grant").collect();
    assert_eq!(grants.len(), 1, "{page}");
    assert_eq!((grants[0]["payment_intent_id"].as_str(), grants[0]["amount"].as_u64()), (Some(pi.as_str()), Some(200)));
    assert!(grants[0].get("session_id").is_none(), "{page}");
    let event = api.events_of("payment_intent.succeeded").into_iter().find(|e| e.contains(&pi)).expect("payment_intent.succeeded");
    let event_id = serde_json::from_str::<Value>(&event).unwrap()["id"].as_str().unwrap().to_string();
    api.standin.redeliver(&event_id).await.unwrap();
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 200);

    // The history names the payment.
    let activity = api.get("/billing/activity", Some(&token)).await;
    let granted: Vec<&Value> =
        activity.body["data"].as_array().unwrap().iter().filter(|a| a["action"] == "billing.credits_granted").collect();
    assert_eq!(granted.len(), 1, "{}", activity.body);
    assert_eq!(granted[0]["stripe"], json!({"payment_intent_id": pi}));
    assert_eq!((granted[0]["actor"]["kind"].as_str(), granted[0]["actor"]["key_id"].as_str()), (Some("HUMAN"), Some(key_id)));
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_charges_and_grants_once() {
    let api = StripeTestApi::with_webhooks().await;
    let token = org_with_card(&api, Some("pm_card_visa")).await;
    let first = top_up(&api, &token, 3, Some("top-up-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = top_up(&api, &token, 3, Some("top-up-1")).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(payment_intents(&api).len(), 1);
    // Another quantity under the same key is another request.
    assert_envelope(&top_up(&api, &token, 1, Some("top-up-1")).await, 422, "idempotency_key_reused");
    // A new key is a new purchase.
    let second = top_up(&api, &token, 1, Some("top-up-2")).await;
    assert_eq!((second.status, second.body["balance"].as_i64()), (200, Some(400)));
    assert_eq!(payment_intents(&api).len(), 2);
    api.standin.webhooks_settled().await;
    assert_eq!(credits(&api, &token).await["balance"], 400);
}

#[tokio::test]
async fn a_retry_after_the_answer_was_lost_replays_the_payment_not_a_new_one() {
    let api = StripeTestApi::with_webhooks().await;
    let token = org_with_card(&api, Some("pm_card_visa")).await;
    // The function dies after Stripe took the payment, before it granted anything.
    api.standin.drop_webhooks(true);
    api.standin.hang_after("POST", "/v1/payment_intents");
    let body = json!({"quantity": 1, "payment": "card_on_file"}).to_string();
    let dying = api.post_json_with(TOP_UP, &token, &body, &[("idempotency-key", "k-lost")]);
    tokio::select! {
        _ = dying => panic!("the trapped request was answered"),
        () = api.standin.trapped() => {}
    }
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 0);
    // Its retry replays Stripe's payment (the same PaymentIntent) and grants once.
    let retry = top_up(&api, &token, 1, Some("k-lost")).await;
    assert_eq!((retry.status, retry.body["balance"].as_i64()), (200, Some(100)), "{}", retry.body);
    assert_eq!(payment_intents(&api).len(), 1);
    assert!(api.calls("POST", "/v1/payment_intents").last().unwrap().replayed);
}

#[tokio::test]
async fn the_webhook_grants_a_top_up_whose_function_died_once() {
    let api = StripeTestApi::with_webhooks().await;
    let token = org_with_card(&api, Some("pm_card_visa")).await;
    api.standin.hang_after("POST", "/v1/payment_intents");
    let dying = top_up(&api, &token, 2, None);
    tokio::select! {
        _ = dying => panic!("the trapped request was answered"),
        () = api.standin.trapped() => {}
    }
    api.standin.webhooks_settled().await;
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 200);
    let event = api.events_of("payment_intent.succeeded").pop().expect("payment_intent.succeeded");
    let event_id = serde_json::from_str::<Value>(&event).unwrap()["id"].as_str().unwrap().to_string();
    api.standin.redeliver(&event_id).await.unwrap();
    let page = credits(&api, &token).await;
    assert_eq!((page["balance"].as_i64(), page["data"].as_array().unwrap().len()), (Some(200), 1), "{page}");
}

#[tokio::test]
async fn a_declined_card_is_402_with_a_checkout_for_the_same_bundles() {
    let api = StripeTestApi::with_webhooks().await;
    let token = org_with_card(&api, Some("pm_card_chargeDeclined")).await;
    let reply = top_up(&api, &token, 2, None).await;
    assert_envelope(&reply, 402, "payment_failed");
    let details = &reply.body["details"];
    assert_eq!(details["reason"], "card_declined");
    assert!(details["payment_intent_id"].as_str().is_some_and(|id| id.starts_with("pi_")), "{details}");
    api.standin.webhooks_settled().await;
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 0);
    assert_eq!(credits(&api, &token).await["data"], json!([]));

    // The Checkout works: paying it grants the same bundles.
    let session = details["session_id"].as_str().unwrap();
    assert!(details["checkout_url"].as_str().unwrap().contains(session));
    api.standin.pay_checkout(session).await.unwrap();
    api.standin.webhooks_settled().await;
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 200);
}

#[tokio::test]
async fn a_card_wanting_authentication_is_402_with_a_checkout() {
    let api = StripeTestApi::with_webhooks().await;
    let token = org_with_card(&api, Some("pm_card_authenticationRequired")).await;
    let reply = top_up(&api, &token, 1, Some("auth-1")).await;
    assert_envelope(&reply, 402, "payment_failed");
    assert_eq!(reply.body["details"]["reason"], "authentication_required");
    assert!(reply.body["details"]["checkout_url"].as_str().is_some_and(|url| url.contains("/checkout/")));
    assert_eq!(payment_intents(&api)[0]["status"], "requires_payment_method");
    // Its retry answers the same, and Stripe is not asked again.
    let again = top_up(&api, &token, 1, Some("auth-1")).await;
    assert_eq!((again.status, &again.body["details"]), (402, &reply.body["details"]));
    assert_eq!(payment_intents(&api).len(), 1);
    api.standin.webhooks_settled().await;
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 0);
}

#[tokio::test]
async fn without_a_card_on_file_it_is_402_no_card_on_file() {
    let api = StripeTestApi::with_webhooks().await;
    // No Stripe customer at all.
    let token = api.org_with_key("acme").await;
    let reply = top_up(&api, &token, 1, None).await;
    assert_envelope(&reply, 402, "payment_failed");
    assert_eq!(reply.body["details"]["reason"], "no_card_on_file");
    assert!(reply.body["details"]["checkout_url"].as_str().is_some());
    // A customer (made by that Checkout) without a default card.
    let reply = top_up(&api, &token, 1, None).await;
    assert_eq!((reply.status, reply.body["details"]["reason"].as_str()), (402, Some("no_card_on_file")));
    assert!(api.calls("POST", "/v1/payment_intents").is_empty());
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 0);
}

#[tokio::test]
async fn an_agent_without_a_mandate_gets_402_and_bad_bodies_are_400_changing_nothing() {
    let api = StripeTestApi::with_webhooks().await;
    let token = org_with_card(&api, Some("pm_card_visa")).await;
    let (_, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let refused = top_up(&api, &agent, 1, None).await;
    assert_envelope(&refused, 402, "mandate_limit_reached");
    assert_eq!(refused.body["details"]["mandate_limit"], "no_mandate");
    let (_, admin) = api.issue_key("acme", "root", PrincipalKind::Admin).await;
    for body in [
        json!({"quantity": 0, "payment": "card_on_file"}),
        json!({"quantity": 11, "payment": "card_on_file"}),
        json!({"quantity": 1, "payment": "invoice"}),
        json!({"quantity": 1, "payment": "card_on_file", "success_url": "https://app.example.com/done"}),
    ] {
        let reply = api.post_json(TOP_UP, &admin, &body.to_string()).await;
        assert_envelope(&reply, 400, "validation_failed");
    }
    assert!(api.calls("POST", "/v1/payment_intents").is_empty());
    assert_eq!(api.get("/billing", Some(&token)).await.body["credits"], 0);
    // An ADMIN may.
    assert_eq!(top_up(&api, &admin, 1, None).await.status, 200);
}
