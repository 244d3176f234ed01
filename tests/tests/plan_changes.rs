//! Plan changes and the agent consent handshake, against DynamoDB Local and the Stripe stand-in
//! (its webhooks delivered to this API).

use billing_shared::billing::Caller;
use billing_shared::billing::plan_change::{DowngradeBody, TOKEN_TTL_SECS, UpgradeBody, downgrade, upgrade};
use billing_shared::domain::principal::{Principal, PrincipalKind};
use billing_shared::now;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{assert_envelope, json};
use serde_json::Value;

const UPDATES: &str = "POST";

async fn billing(api: &StripeTestApi, token: &str) -> Value {
    api.get("/billing", Some(token)).await.body
}

#[tokio::test]
async fn human_upgrade_switches_now_with_the_proration_invoiced() {
    let (api, human, _) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let reply = api.post_json("/billing/upgrade", &human, r#"{"plan":"scale","quantity":2}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "switched");
    assert_eq!(reply.body["billing"]["plan"], "scale");
    assert_eq!(reply.body["billing"]["quantity"], 2);
    let update = api.calls(UPDATES, &format!("/v1/subscriptions/{}", api.subscription_id())).pop().unwrap();
    assert_eq!(update.params["proration_behavior"], "always_invoice");
    assert_eq!(update.params["payment_behavior"], "pending_if_incomplete");
    assert_eq!(update.params["items"]["0"]["price"], "price_scale_monthly");
    assert!(update.params["proration_date"].as_str().is_some());
    api.standin.webhooks_settled().await;
    let after = billing(&api, &human).await;
    assert_eq!((after["plan"].as_str(), after["quantity"].as_u64()), (Some("scale"), Some(2)));

    let again = api.post_json("/billing/upgrade", &human, r#"{"plan":"scale","quantity":2}"#).await;
    assert_eq!(again.body["status"], "already-on-plan");
}

#[tokio::test]
async fn a_declined_upgrade_leaves_the_old_plan_and_answers_402() {
    let (api, human, _) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let customer = api.app.store.get_org("acme").await.unwrap().unwrap().stripe_customer_id.unwrap();
    api.standin.decline_payments(&customer);
    let reply = api.post_json("/billing/upgrade", &human, r#"{"plan":"scale"}"#).await;
    assert_envelope(&reply, 402, "payment_failed");
    api.standin.webhooks_settled().await;
    let after = billing(&api, &human).await;
    assert_eq!(after["plan"], "pro");
    assert_eq!(after["status"], "active");
    let org = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!(org.change_intent, None, "the lock is freed");
}

#[tokio::test]
async fn a_cheaper_plan_is_scheduled_and_happens_at_period_end() {
    let (api, human, _) = StripeTestApi::subscribed(r#"{"plan":"scale","interval":"month","quantity":3}"#).await;
    let reply = api.post_json("/billing/upgrade", &human, r#"{"plan":"pro"}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "change-scheduled");
    let effective_at = reply.body["effective_at"].as_i64().unwrap();
    assert_eq!(reply.body["billing"]["plan"], "scale", "the org keeps what it paid for");
    assert_eq!(reply.body["billing"]["scheduled_change"]["plan"], "pro");
    assert_eq!(reply.body["billing"]["scheduled_change"]["effective_at"], effective_at);
    assert_eq!(api.calls("POST", "/v1/subscription_schedules").len(), 1);
    api.standin.webhooks_settled().await;
    assert_eq!(billing(&api, &human).await["scheduled_change"]["plan"], "pro", "webhooks agree");

    api.standin.advance_period(&api.subscription_id(), true).await.unwrap();
    api.standin.webhooks_settled().await;
    let after = billing(&api, &human).await;
    assert_eq!(after["plan"], "pro");
    assert_eq!(after["quantity"], 1);
    assert!(after["scheduled_change"].is_null(), "{after}");
    assert!(after["current_period_end"].as_i64().unwrap() > effective_at);
}

#[tokio::test]
async fn downgrade_is_scheduled_once_replaces_a_paid_change_and_upgrade_resumes() {
    let (api, human, _) = StripeTestApi::subscribed(r#"{"plan":"scale","interval":"month","quantity":3}"#).await;
    assert_eq!(api.post_json("/billing/upgrade", &human, r#"{"plan":"pro"}"#).await.body["status"], "change-scheduled");
    let reply = api.post_json("/billing/downgrade", &human, "{}").await;
    assert_eq!(reply.body["status"], "downgrade-scheduled", "{}", reply.body);
    assert_eq!(reply.body["billing"]["scheduled_change"]["plan"], "free");
    assert_eq!(api.calls("POST", &format!("/v1/subscription_schedules/{}/release", schedule_id(&api))).len(), 1, "released first");
    let again = api.post_json("/billing/downgrade", &human, "{}").await;
    assert_eq!(again.body["status"], "already-scheduled");

    let resumed = api.post_json("/billing/upgrade", &human, r#"{"plan":"scale","quantity":3}"#).await;
    assert_eq!(resumed.body["status"], "resumed", "{}", resumed.body);
    assert!(resumed.body["billing"]["scheduled_change"].is_null());
    assert_eq!(resumed.body["billing"]["cancel_at_period_end"], false);

    assert_eq!(api.post_json("/billing/downgrade", &human, "{}").await.body["status"], "downgrade-scheduled");
    api.standin.advance_period(&api.subscription_id(), true).await.unwrap();
    api.standin.webhooks_settled().await;
    assert_eq!(billing(&api, &human).await["plan"], "free");
    assert_eq!(api.post_json("/billing/downgrade", &human, "{}").await.body["status"], "already-free");
}

fn schedule_id(api: &StripeTestApi) -> String {
    api.standin.events().iter().find(|e| e["type"] == "subscription_schedule.created").unwrap()["data"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_free_org_is_sent_to_checkout_and_bad_input_changes_nothing() {
    let api = StripeTestApi::new().await;
    let human = api.org_with_key("acme").await;
    let reply = api.post_json("/billing/upgrade", &human, "{}").await;
    assert_eq!(reply.body["status"], "checkout-required", "{}", reply.body);
    assert!(reply.body["checkout_url"].as_str().unwrap().starts_with("http"));
    let calls = api.standin.requests().len();
    let before = api.items().await;
    for (body, field) in [
        (r#"{"plan":"gold"}"#, "plan"),
        (r#"{"plan":"free"}"#, "plan"),
        (r#"{"plan":"scale","quantity":0}"#, "quantity"),
        (r#"{"plan":"pro","quantity":2}"#, "quantity"),
        (r#"{"plan":"pro","price":"price_x"}"#, "price"),
    ] {
        let reply = api.post_json("/billing/upgrade", &human, body).await;
        assert_envelope(&reply, 400, "validation_failed");
        assert_eq!(reply.body["details"]["fields"][0]["field"], field, "{body}");
    }
    assert_envelope(&api.post_json("/billing/upgrade", &human, r#"{"mode":"fax"}"#).await, 400, "validation_failed");
    assert_eq!(api.standin.requests().len(), calls);
    assert_eq!(api.items().await, before);
    assert_eq!(api.post_json("/billing/downgrade", &human, "{}").await.body["status"], "already-free");
}

#[tokio::test]
async fn design_partners_change_nothing_and_cannot_check_out() {
    let api = StripeTestApi::new().await;
    let human = api.org_with_key("acme").await;
    let mut org = api.app.store.get_org("acme").await.unwrap().unwrap();
    org.design_partner = true;
    api.app.store.save_org(&mut org).await.unwrap();
    assert_eq!(api.post_json("/billing/upgrade", &human, r#"{"plan":"scale"}"#).await.body["status"], "design-partner");
    assert_eq!(api.post_json("/billing/downgrade", &human, "{}").await.body["status"], "design-partner");
    assert_envelope(&api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"month"}"#).await, 409, "conflict");
    assert!(api.standin.requests().is_empty());
}

#[tokio::test]
async fn an_agent_confirms_with_the_previewed_amount_and_the_token_works_once() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let ask = api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale","quantity":2}"#).await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert_eq!(ask.body["status"], "confirmation_required");
    assert_eq!(ask.body["expires_in"], 60);
    let token = ask.body["confirm_token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32);
    let change = &ask.body["change"];
    assert_eq!(change["from"]["plan"], "pro");
    assert_eq!(change["to"], json!({"plan": "scale", "interval": "month", "quantity": 2}));
    assert_eq!(change["recurring_amount"], 2 * 4900);
    let due = change["amount_due_now"].as_i64().unwrap();
    assert!(due > 0 && due <= 2 * 4900 - 1900 + 1, "{due}");
    let message = ask.body["message"].as_str().unwrap();
    assert!(message.contains(&format!("${}.{:02}", due / 100, due % 100)) && message.contains("$98.00"), "{message}");
    assert_eq!(api.subscription_updates(), 0, "asking changes nothing");
    assert_eq!(billing(&api, &human).await["plan"], "pro");
    let items = api.items().await;
    let stored = items.iter().find(|i| i["PK"].as_s().unwrap().starts_with("CONSENT#")).unwrap();
    assert!(!format!("{stored:?}").contains(&token), "only the hash is stored");
    assert!(stored.contains_key("expires_at"), "DynamoDB's TTL removes it");

    let body = format!(r#"{{"plan":"scale","quantity":2,"confirm_token":"{token}"}}"#);
    let confirmed = api.post_json("/billing/upgrade", &agent, &body).await;
    assert_eq!(confirmed.body["status"], "switched", "{}", confirmed.body);
    assert_eq!(api.subscription_updates(), 1);
    let preview = api.calls("POST", "/v1/invoices/create_preview").pop().unwrap();
    let update = api.calls(UPDATES, &format!("/v1/subscriptions/{}", api.subscription_id())).pop().unwrap();
    assert_eq!(
        update.params["proration_date"], preview.params["subscription_details"]["proration_date"],
        "the amount agreed is the amount charged"
    );
    let invoice = api.standin.events().into_iter().rev().find(|e| e["type"] == "invoice.paid").unwrap();
    assert_eq!(invoice["data"]["object"]["amount_paid"].as_i64(), Some(due));

    let replay = api.post_json("/billing/upgrade", &agent, &body).await;
    assert_envelope(&replay, 400, "invalid_confirm_token");
    assert_eq!(replay.body["details"]["reason"], "used");
    assert_eq!(replay.body["details"]["result"]["status"], "switched", "a retry learns it went through");
    assert_eq!(api.subscription_updates(), 1);
}

#[tokio::test]
async fn tokens_are_bound_to_org_principal_parameters_and_time() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let ask = |body: &'static str| {
        let api = &api;
        let agent = agent.clone();
        async move { api.post_json("/billing/upgrade", &agent, body).await.body["confirm_token"].as_str().unwrap().to_string() }
    };
    let reason = |reply: billing_tests::Reply| {
        assert_envelope(&reply, 400, "invalid_confirm_token");
        reply.body["details"]["reason"].as_str().unwrap().to_string()
    };
    let token = ask(r#"{"plan":"scale"}"#).await;
    let with = |body: &str| format!(r#"{{{body},"confirm_token":"{token}"}}"#);

    assert_eq!(reason(api.post_json("/billing/upgrade", &agent, &with(r#""plan":"scale","quantity":3"#)).await), "mismatch");
    assert_eq!(reason(api.post_json("/billing/downgrade", &agent, &format!(r#"{{"confirm_token":"{token}"}}"#)).await), "mismatch");
    let (_, other_agent) = api.issue_key("acme", "other-bot", PrincipalKind::Agent).await;
    assert_eq!(reason(api.post_json("/billing/upgrade", &other_agent, &with(r#""plan":"scale""#)).await), "mismatch");
    assert_eq!(reason(api.post_json("/billing/upgrade", &human, &with(r#""plan":"scale""#)).await), "mismatch");
    let stranger = api.org_with_key("globex").await;
    assert_eq!(reason(api.post_json("/billing/upgrade", &stranger, &with(r#""plan":"scale""#)).await), "unknown");
    let made_up = r#"{"plan":"scale","confirm_token":"ct_0000000000000000000000000000000000000000000000000"}"#;
    assert_eq!(reason(api.post_json("/billing/upgrade", &agent, made_up).await), "unknown");

    // Expiry, with the clock moved instead of waited for.
    let principal =
        Principal { org_id: "acme".into(), principal_id: "assistant".into(), key_id: "key_assistant".into(), kind: PrincipalKind::Agent };
    let late = UpgradeBody {
        plan: Some("scale".into()),
        interval: None,
        quantity: None,
        confirm_token: Some(token.clone()),
        ..UpgradeBody::default()
    };
    let err = upgrade(&api.app, &Caller { principal: &principal, base_url: "" }, &late, now() + TOKEN_TTL_SECS + 1).await.unwrap_err();
    assert_eq!(err.details.unwrap()["reason"], "expired");
    assert_eq!(api.subscription_updates(), 0, "nothing ran");

    // A change executed in between voids the tokens computed before it.
    let down = api.post_json("/billing/downgrade", &agent, "{}").await.body["confirm_token"].as_str().unwrap().to_string();
    let down_body = DowngradeBody { confirm_token: None, mode: None };
    assert_eq!(
        json!(downgrade(&api.app, &Caller { principal: &principal, base_url: "" }, &down_body, now()).await.unwrap())["status"],
        "confirmation_required"
    );
    assert_eq!(api.post_json("/billing/upgrade", &human, r#"{"plan":"pro","interval":"year"}"#).await.body["status"], "switched");
    assert_eq!(reason(api.post_json("/billing/upgrade", &agent, &with(r#""plan":"scale""#)).await), "mismatch");
    let stale = format!(r#"{{"confirm_token":"{down}"}}"#);
    assert_eq!(reason(api.post_json("/billing/upgrade", &agent, &stale).await), "mismatch", "params differ");
}

#[tokio::test]
async fn two_concurrent_uses_of_one_token_execute_once() {
    let (api, _, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let token = api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale"}"#).await.body["confirm_token"].as_str().unwrap().to_string();
    let body = format!(r#"{{"plan":"scale","confirm_token":"{token}"}}"#);
    let replies = futures::future::join_all((0..4).map(|_| api.post_json("/billing/upgrade", &agent, &body))).await;
    let switched = replies.iter().filter(|r| r.body["status"] == "switched").count();
    assert_eq!(switched, 1, "{:?}", replies.iter().map(|r| r.body.to_string()).collect::<Vec<_>>());
    for reply in replies.iter().filter(|r| r.body["status"] != "switched") {
        assert!(reply.body["error"] == "change_in_progress" || reply.body["details"]["reason"] == "used", "{}", reply.body);
    }
    assert_eq!(api.subscription_updates(), 1, "exactly one Stripe update");
}

#[tokio::test]
async fn an_agent_confirms_a_downgrade_and_gets_resumes_without_consent() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let ask = api.post_json("/billing/downgrade", &agent, "{}").await;
    assert_eq!(ask.body["status"], "confirmation_required", "{}", ask.body);
    assert_eq!(ask.body["change"]["to"]["plan"], "free");
    assert_eq!(ask.body["change"]["amount_due_now"], 0);
    let token = ask.body["confirm_token"].as_str().unwrap();
    let done = api.post_json("/billing/downgrade", &agent, &format!(r#"{{"confirm_token":"{token}"}}"#)).await;
    assert_eq!(done.body["status"], "downgrade-scheduled", "{}", done.body);
    assert_eq!(billing(&api, &human).await["cancel_at_period_end"], true);
    let resumed = api.post_json("/billing/upgrade", &agent, r#"{"plan":"pro"}"#).await;
    assert_eq!(resumed.body["status"], "resumed", "{}", resumed.body);
}
