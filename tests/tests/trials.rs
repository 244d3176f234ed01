//! Free trials end to end, against DynamoDB Local and the Stripe stand-in (its webhooks
//! delivered to this API): a trial Checkout, the trial's end with and without a card, one trial
//! per org, ending it now (an agent with consent) and extending it (an admin).

use billing_shared::domain::principal::PrincipalKind;
use billing_tests::events::Pipeline;
use billing_tests::stripe::{DEMO_CATALOG, StripeTestApi};
use billing_tests::{assert_envelope, json};
use serde_json::Value;

const SESSIONS: &str = "/v1/checkout/sessions";
const DAY: i64 = 86_400;

async fn billing(api: &StripeTestApi, token: &str) -> Value {
    api.get("/billing", Some(token)).await.body
}

/// An org `acme` of the demo catalog (Pro has a 14-day trial) and its HUMAN key.
async fn demo(extra: &[(&str, &str)]) -> (StripeTestApi, String) {
    let vars: Vec<(&str, &str)> = [("CATALOG_FILE", DEMO_CATALOG)].into_iter().chain(extra.iter().copied()).collect();
    let api = StripeTestApi::with_webhooks_and(&vars).await;
    let human = api.org_with_key("acme").await;
    (api, human)
}

/// `demo`, with the org in Pro's trial (the card given at Checkout unless the deployment needs none).
async fn trialing(extra: &[(&str, &str)]) -> (StripeTestApi, String) {
    let (api, human) = demo(extra).await;
    let reply = api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"month"}"#).await;
    assert_eq!((reply.status, &reply.body["trial_days"]), (200, &json!(14)), "{}", reply.body);
    api.standin.pay_checkout(reply.body["session_id"].as_str().unwrap()).await.unwrap();
    api.standin.webhooks_settled().await;
    assert_eq!(billing(&api, &human).await["status"], "trialing");
    (api, human)
}

#[tokio::test]
async fn a_trial_checkout_starts_trialing_and_a_card_makes_it_active_at_its_end() {
    let (api, human) = demo(&[]).await;
    let before = billing(&api, &human).await;
    assert_eq!((&before["trial_eligible"], &before["trial_ends_at"]), (&json!(true), &Value::Null));
    let plans = api.get("/billing/plans", Some(&human)).await.body;
    let trial_days: Vec<_> = plans["plans"].as_array().unwrap().iter().map(|p| (p["id"].clone(), p["trial_days"].clone())).collect();
    assert_eq!(trial_days, [(json!("free"), json!(0)), (json!("pro"), json!(14)), (json!("scale"), json!(0))]);

    let reply = api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"month"}"#).await;
    assert_eq!((reply.status, &reply.body["trial_days"]), (200, &json!(14)), "{}", reply.body);
    let session = &api.calls("POST", SESSIONS)[0].params;
    assert_eq!(session["subscription_data"]["trial_period_days"], "14");
    assert_eq!(session["allow_promotion_codes"], "true", "a customer may type a code");
    assert!(session.get("payment_method_collection").is_none() && session["subscription_data"].get("trial_settings").is_none());
    api.standin.pay_checkout(reply.body["session_id"].as_str().unwrap()).await.unwrap();
    api.standin.webhooks_settled().await;

    let during = billing(&api, &human).await;
    assert_eq!((&during["status"], &during["plan"], &during["effective_plan"]), (&json!("trialing"), &json!("pro"), &json!("pro")));
    let ends_at = during["trial_ends_at"].as_i64().expect("a trial end");
    assert!((ends_at - billing_shared::now() - 14 * DAY).abs() < 120, "{ends_at}");
    assert_eq!(during["trial_eligible"], false);
    assert!(during["card"].is_object(), "the card given at Checkout: {during}");
    let agents_cap = during["limits"].as_array().unwrap().iter().find(|l| l["resource"] == "agents").unwrap()["cap"].clone();
    assert_eq!(agents_cap, 10, "Pro's caps during the trial");

    api.standin.advance_period(&api.subscription_id(), true).await.unwrap();
    api.standin.webhooks_settled().await;
    let after = billing(&api, &human).await;
    assert_eq!((&after["status"], &after["plan"], &after["trial_ends_at"]), (&json!("active"), &json!("pro"), &Value::Null));
    let invoices = api.get("/billing/invoices", Some(&human)).await.body;
    assert_eq!(invoices["data"][0]["status"], "paid");
    assert_eq!(invoices["data"][0]["total"], 1900, "the first period is charged at the trial's end");
}

#[tokio::test]
async fn without_a_card_the_trial_ends_in_cancellation_and_the_org_is_back_on_free() {
    let (api, human) = trialing(&[("TRIAL_REQUIRES_CARD", "off")]).await;
    let session = &api.calls("POST", SESSIONS)[0].params;
    assert_eq!(session["payment_method_collection"], "if_required");
    assert_eq!(session["subscription_data"]["trial_settings"]["end_behavior"]["missing_payment_method"], "cancel");
    let during = billing(&api, &human).await;
    assert_eq!((&during["status"], &during["card"]), (&json!("trialing"), &Value::Null), "{during}");

    api.standin.advance_period(&api.subscription_id(), true).await.unwrap();
    api.standin.webhooks_settled().await;
    let after = billing(&api, &human).await;
    assert_eq!((&after["status"], &after["plan"], &after["effective_plan"]), (&json!("canceled"), &json!("free"), &json!("free")));
    assert_eq!(after["trial_eligible"], false, "the trial was had");

    let again = api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"month"}"#).await;
    assert_eq!((again.status, &again.body["trial_days"]), (200, &json!(0)), "{}", again.body);
    let second = api.calls("POST", SESSIONS).pop().unwrap().params;
    assert!(second["subscription_data"].get("trial_period_days").is_none(), "no second trial: {second}");
}

#[tokio::test]
async fn two_racing_checkouts_cannot_both_carry_a_trial() {
    let (api, human) = demo(&[]).await;
    let (monthly, annual) = tokio::join!(
        api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"month"}"#),
        api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"year"}"#),
    );
    let statuses = [monthly.status, annual.status];
    assert!(statuses.contains(&200) && statuses.contains(&409), "one wins, one is told another is open: {statuses:?}");
    let winner = if monthly.status == 200 { &monthly } else { &annual };
    assert_eq!(winner.body["trial_days"], 14);
    let winner_id = winner.body["session_id"].as_str().unwrap();
    let made: Vec<_> = api.calls("POST", SESSIONS).into_iter().filter(|r| !r.replayed && r.status == 200).collect();
    let expired = api.calls("POST", &format!("{SESSIONS}/{winner_id}/expire"));
    assert!(made.len() <= 2 && expired.is_empty(), "only a losing session is expired, never the recorded one");
    let org = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!(org.pending_checkout.map(|p| (p.session_id, p.trial_days)), Some((winner_id.to_string(), 14)));
}

#[tokio::test]
async fn an_agent_ends_the_trial_with_consent_and_pays_what_it_was_shown() {
    let (api, human) = trialing(&[]).await;
    let (_, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let asked = api.post_json("/billing/trial/end", &agent, "{}").await;
    assert_eq!((asked.status, &asked.body["status"]), (200, &json!("confirmation_required")), "{}", asked.body);
    let due = asked.body["change"]["amount_due_now"].as_i64().unwrap();
    assert_eq!(due, 1900, "Pro's first month");
    assert!(asked.body["message"].as_str().unwrap().contains("$19.00 is charged today"), "{}", asked.body);
    assert_eq!(billing(&api, &human).await["status"], "trialing", "nothing changed yet");

    let token = asked.body["confirm_token"].as_str().unwrap();
    let confirmed = api.post_json("/billing/trial/end", &agent, &format!(r#"{{"confirm_token":"{token}"}}"#)).await;
    assert_eq!((confirmed.status, &confirmed.body["status"]), (200, &json!("trial-ended")), "{}", confirmed.body);
    api.standin.webhooks_settled().await;
    let after = billing(&api, &human).await;
    assert_eq!((&after["status"], &after["trial_ends_at"]), (&json!("active"), &Value::Null));
    let invoices = api.get("/billing/invoices", Some(&human)).await.body;
    assert_eq!(invoices["data"][0]["total"], due, "the amount agreed is the amount charged");
    assert_eq!(invoices["data"][0]["status"], "paid");

    for bad in [r#"{"mode":"email"}"#, r#"{"now":true}"#, r#"{"confirm_token":7}"#, "[]", "{"] {
        let reply = api.post_json("/billing/trial/end", &agent, bad).await;
        assert!(reply.status == 400 && reply.body["error"].is_string(), "{bad}: {}", reply.body);
    }
    let replay = api.post_json("/billing/trial/end", &agent, &format!(r#"{{"confirm_token":"{token}"}}"#)).await;
    assert_envelope(&replay, 400, "invalid_confirm_token");
    assert_envelope(&api.post_json("/billing/trial/end", &human, "{}").await, 409, "not_trialing");
}

#[tokio::test]
async fn a_human_ends_the_trial_at_once_and_a_declined_card_keeps_it() {
    let (api, human) = trialing(&[]).await;
    let customer = api.app.store.get_org("acme").await.unwrap().unwrap().stripe_customer_id.unwrap();
    api.standin.decline_payments(&customer);
    let declined = api.post_json("/billing/trial/end", &human, "{}").await;
    assert_envelope(&declined, 402, "payment_failed");
    api.standin.webhooks_settled().await;
    assert_eq!(billing(&api, &human).await["status"], "trialing", "the trial goes on");
    assert_eq!(api.app.store.get_org("acme").await.unwrap().unwrap().change_intent, None, "the lock is freed");

    let (api, human) = trialing(&[]).await;
    let ended = api.post_json("/billing/trial/end", &human, "").await;
    assert_eq!((ended.status, &ended.body["status"]), (200, &json!("trial-ended")), "{}", ended.body);
    assert_eq!(ended.body["billing"]["status"], "active");
}

#[tokio::test]
async fn an_admin_extends_a_trial_within_bounds_and_nobody_else_can() {
    let (api, human) = trialing(&[]).await;
    let (_, admin) = api.issue_key("acme", "ops", PrincipalKind::Admin).await;
    let (_, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let ends_at = billing(&api, &human).await["trial_ends_at"].as_i64().unwrap();
    let before = api.items().await;
    for body in [r#"{"days":0}"#, r#"{"days":31}"#, r#"{"days":"7"}"#, r#"{"days":7,"why":1}"#, r#"{}"#, r#"{"days":-1}"#] {
        assert_envelope(&api.post_json("/billing/trial/extend", &admin, body).await, 400, "validation_failed");
    }
    assert_envelope(&api.post_json("/billing/trial/extend", &human, r#"{"days":7}"#).await, 403, "forbidden");
    assert_envelope(&api.post_json("/billing/trial/extend", &agent, r#"{"days":7}"#).await, 403, "forbidden");
    assert_eq!(api.items().await, before, "nothing written for a refusal");

    let extended = api.post_json("/billing/trial/extend", &admin, r#"{"days":7}"#).await;
    assert_eq!((extended.status, &extended.body["status"]), (200, &json!("trial-extended")), "{}", extended.body);
    assert_eq!(extended.body["billing"]["trial_ends_at"], ends_at + 7 * DAY);
    api.standin.webhooks_settled().await;
    assert_eq!(billing(&api, &human).await["trial_ends_at"], ends_at + 7 * DAY);

    let (free, free_human) = demo(&[]).await;
    let (_, free_admin) = free.issue_key("acme", "ops", PrincipalKind::Admin).await;
    assert_envelope(&free.post_json("/billing/trial/extend", &free_admin, r#"{"days":7}"#).await, 409, "not_trialing");
    assert_envelope(&free.post_json("/billing/trial/end", &free_human, "{}").await, 409, "not_trialing");
}

#[tokio::test]
async fn plan_changes_during_a_trial_charge_nothing_now() {
    let (api, human) = trialing(&[]).await;
    let (_, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let ends_at = billing(&api, &human).await["trial_ends_at"].as_i64().unwrap();
    let up = api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale","quantity":2}"#).await;
    assert_eq!(up.body["status"], "confirmation_required", "{}", up.body);
    assert_eq!((&up.body["change"]["amount_due_now"], &up.body["change"]["trial_ends_at"]), (&json!(0), &json!(ends_at)));
    assert!(up.body["message"].as_str().unwrap().contains("nothing is charged today"), "{}", up.body);

    let down = api.post_json("/billing/downgrade", &human, "{}").await;
    assert_eq!(down.body["status"], "downgrade-scheduled", "{}", down.body);
    assert_eq!(down.body["effective_at"], ends_at, "the subscription ends with the trial");
    let invoices = api.get("/billing/invoices", Some(&human)).await.body;
    assert!(invoices["data"].as_array().unwrap().iter().all(|i| i["total"] == 0), "nothing charged: {invoices}");
}

#[tokio::test]
async fn stripes_trial_reminder_becomes_a_trial_ending_record_and_event() {
    let (api, human) = trialing(&[]).await;
    let mut pipeline = Pipeline::start(&api).await;
    pipeline.deliver().await;
    api.standin.trial_will_end(&api.subscription_id()).await.unwrap();
    api.standin.webhooks_settled().await;
    let published = pipeline.deliver().await;
    let types: Vec<_> = published.iter().map(|e| e["detail-type"].as_str().unwrap()).collect();
    assert_eq!(types, ["billing.trial_ending"], "on the bus, in its documented schema");
    let activity = api.get("/billing/activity", Some(&human)).await.body;
    let ending: Vec<_> = activity["data"].as_array().unwrap().iter().filter(|r| r["action"] == "billing.trial_ending").collect();
    assert_eq!(ending.len(), 1, "{activity}");
    assert_eq!(ending[0]["params"]["trial_ends_at"], billing(&api, &human).await["trial_ends_at"]);
    assert_eq!(ending[0]["stripe"]["subscription_id"], api.subscription_id().as_str());
}
