//! Promotion codes and tax end to end, against DynamoDB Local and the Stripe stand-in (seeded
//! with the demo codes: LAUNCH20, FIRSTMONTH, EXPIRED10, USEDUP, RETIRED15, BIGSPEND).

use billing_shared::domain::principal::PrincipalKind;
use billing_tests::stripe::{DEMO_CATALOG, StripeTestApi};
use billing_tests::{assert_envelope, json};
use serde_json::Value;

const SESSIONS: &str = "/v1/checkout/sessions";

async fn billing(api: &StripeTestApi, token: &str) -> Value {
    api.get("/billing", Some(token)).await.body
}

/// The Stripe writes made so far (every POST and DELETE).
fn stripe_writes(api: &StripeTestApi) -> Vec<String> {
    api.standin.requests().into_iter().filter(|r| r.method != "GET").map(|r| format!("{} {}", r.method, r.path)).collect()
}

fn checkout_with(code: &str) -> String {
    json!({ "plan": "pro", "interval": "month", "promotion_code": code }).to_string()
}

#[tokio::test]
async fn a_code_that_does_not_apply_is_refused_with_its_reason_and_creates_nothing() {
    let api = StripeTestApi::with_webhooks().await;
    let human = api.org_with_key("acme").await;
    let before = api.items().await;
    for (code, reason) in
        [("NOPE", "unknown"), ("RETIRED15", "inactive"), ("EXPIRED10", "expired"), ("USEDUP", "exhausted"), ("BIGSPEND", "minimum_amount")]
    {
        let reply = api.post_json("/billing/checkout", &human, &checkout_with(code)).await;
        assert_envelope(&reply, 400, "invalid_promotion_code");
        assert_eq!((&reply.body["details"]["reason"], &reply.body["details"]["promotion_code"]), (&json!(reason), &json!(code)));
    }
    assert_eq!(stripe_writes(&api), Vec::<String>::new(), "no customer, no session");
    assert_eq!(api.items().await, before, "nothing written");

    for bad in [json!("A".repeat(200)), json!("LAUNCH\u{7}20"), json!("LAUNCH 20"), json!(""), json!(20), json!(["LAUNCH20"])] {
        let body = json!({ "plan": "pro", "interval": "month", "promotion_code": bad }).to_string();
        assert_envelope(&api.post_json("/billing/checkout", &human, &body).await, 400, "validation_failed");
    }
    assert!(api.standin.requests().iter().all(|r| !r.path.starts_with("/v1/checkout")), "bad input reaches no Checkout");
    assert_eq!(api.items().await, before);
}

/// FIRSTMONTH at Checkout: refused as `first_time_only`, and no session made.
async fn assert_first_time_code_refused(api: &StripeTestApi, human: &str) {
    let sessions = api.calls("POST", SESSIONS).len();
    let reply = api.post_json("/billing/checkout", human, &checkout_with("FIRSTMONTH")).await;
    assert_envelope(&reply, 400, "invalid_promotion_code");
    assert_eq!(reply.body["details"]["reason"], "first_time_only");
    assert_eq!(api.calls("POST", SESSIONS).len(), sessions, "no session");
}

#[tokio::test]
async fn a_first_time_code_is_refused_to_an_org_that_has_subscribed_before() {
    let (api, human, _) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    api.post_json("/billing/downgrade", &human, "{}").await;
    api.standin.advance_period(&api.subscription_id(), true).await.unwrap();
    api.standin.webhooks_settled().await;
    assert_eq!(billing(&api, &human).await["plan"], "free");
    assert_first_time_code_refused(&api, &human).await;
}

#[tokio::test]
async fn a_first_time_code_is_refused_to_an_org_that_has_bought_credits() {
    let api = StripeTestApi::with_webhooks().await;
    let human = api.org_with_key("acme").await;
    let credits = api.post_json("/billing/credits/checkout", &human, r#"{"quantity":1}"#).await;
    assert_eq!(credits.status, 200, "{}", credits.body);
    api.standin.pay_checkout(credits.body["session_id"].as_str().unwrap()).await.unwrap();
    api.standin.webhooks_settled().await;
    assert!(billing(&api, &human).await["credits"].as_i64().is_some_and(|c| c > 0), "the credits were granted");
    assert_first_time_code_refused(&api, &human).await;
}

#[tokio::test]
async fn a_code_typed_on_stripes_page_is_the_orgs_discount() {
    let api = StripeTestApi::with_webhooks().await;
    let human = api.org_with_key("acme").await;
    let reply = api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"month"}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(api.calls("POST", SESSIONS).pop().unwrap().params["allow_promotion_codes"], "true");
    let session = reply.body["session_id"].as_str().unwrap();
    assert!(api.standin.type_promotion_code(session, "EXPIRED10").await.unwrap_err().contains("expired"));
    api.standin.type_promotion_code(session, "LAUNCH20").await.unwrap();
    api.standin.pay_checkout(session).await.unwrap();
    api.standin.webhooks_settled().await;

    let summary = billing(&api, &human).await;
    assert_eq!((&summary["plan"], &summary["discount"]["promotion_code"]), (&json!("pro"), &json!("LAUNCH20")), "{summary}");
    let invoice = api.get("/billing/invoices", Some(&human)).await.body["data"][0].clone();
    assert_eq!((&invoice["subtotal"], &invoice["discount"], &invoice["total"]), (&json!(1900), &json!(380), &json!(1520)), "{invoice}");
}

#[tokio::test]
async fn a_valid_code_discounts_the_checkout_and_every_invoice_shows_it() {
    let api = StripeTestApi::with_webhooks().await;
    let human = api.org_with_key("acme").await;
    let reply = api.post_json("/billing/checkout", &human, &checkout_with("launch20")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let session = api.calls("POST", SESSIONS).pop().unwrap().params;
    assert!(session["discounts"]["0"]["promotion_code"].as_str().is_some_and(|id| id.starts_with("promo_")), "{session}");
    assert!(session.get("allow_promotion_codes").is_none(), "never both: {session}");
    api.standin.pay_checkout(reply.body["session_id"].as_str().unwrap()).await.unwrap();
    api.standin.webhooks_settled().await;

    let discount = &billing(&api, &human).await["discount"];
    assert_eq!(
        (&discount["promotion_code"], &discount["percent_off"], &discount["duration"], &discount["ends_at"]),
        (&json!("LAUNCH20"), &json!(20.0), &json!("forever"), &Value::Null),
        "{discount}"
    );
    let invoice = api.get("/billing/invoices", Some(&human)).await.body["data"][0].clone();
    assert_eq!(
        (&invoice["subtotal"], &invoice["discount"], &invoice["tax"], &invoice["total"]),
        (&json!(1900), &json!(380), &json!(0), &json!(1520))
    );
}

#[tokio::test]
async fn without_a_code_checkout_lets_the_customer_type_one_unless_turned_off() {
    let api = StripeTestApi::with_config(&[("CHECKOUT_PROMOTION_CODES", "off")]).await;
    let human = api.org_with_key("acme").await;
    assert_eq!(api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"month"}"#).await.status, 200);
    let session = api.calls("POST", SESSIONS).pop().unwrap().params;
    assert!(session.get("allow_promotion_codes").is_none() && session.get("discounts").is_none(), "{session}");
}

#[tokio::test]
async fn a_human_applies_a_code_to_the_live_subscription_and_an_agent_cannot() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let body = r#"{"promotion_code":"LAUNCH20"}"#;
    assert_envelope(&api.post_json("/billing/promotion-code", &agent, body).await, 403, "forbidden");
    let updates = api.subscription_updates();
    let expired = api.post_json("/billing/promotion-code", &human, r#"{"promotion_code":"EXPIRED10"}"#).await;
    assert_envelope(&expired, 400, "invalid_promotion_code");
    assert_envelope(
        &api.post_json("/billing/promotion-code", &human, r#"{"promotion_code":"LAUNCH20","x":1}"#).await,
        400,
        "validation_failed",
    );
    assert_eq!(api.subscription_updates(), updates, "a refused code changes nothing at Stripe");

    let applied = api.post_json("/billing/promotion-code", &human, body).await;
    assert_eq!((applied.status, &applied.body["status"]), (200, &json!("discount-applied")), "{}", applied.body);
    assert_eq!(applied.body["billing"]["discount"]["promotion_code"], "LAUNCH20");
    api.standin.webhooks_settled().await;
    assert_eq!(billing(&api, &human).await["discount"]["percent_off"], 20.0);

    let fresh = StripeTestApi::new().await;
    let lone = fresh.org_with_key("acme").await;
    assert_envelope(&fresh.post_json("/billing/promotion-code", &lone, body).await, 409, "conflict");
}

#[tokio::test]
async fn an_agents_upgrade_with_a_code_is_charged_what_its_human_agreed_to() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let body = r#"{"plan":"scale","quantity":2,"promotion_code":"LAUNCH20"}"#;
    let asked = api.post_json("/billing/upgrade", &agent, body).await;
    assert_eq!(asked.body["status"], "confirmation_required", "{}", asked.body);
    let change = asked.body["change"].clone();
    let (due, off) = (change["amount_due_now"].as_i64().unwrap(), change["discount_due_now"].as_i64().unwrap());
    assert!(off > 0 && due > 0, "the preview shows the code's discount: {change}");
    assert!(asked.body["message"].as_str().unwrap().contains("discount"), "{}", asked.body);
    let token = asked.body["confirm_token"].as_str().unwrap();

    let other = json!({ "plan": "scale", "quantity": 2, "confirm_token": token }).to_string();
    let mismatch = api.post_json("/billing/upgrade", &agent, &other).await;
    assert_envelope(&mismatch, 400, "invalid_confirm_token");
    assert_eq!(mismatch.body["details"]["reason"], "mismatch", "the token is bound to the code");

    let refused = api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale","quantity":2,"promotion_code":"USEDUP"}"#).await;
    assert_envelope(&refused, 400, "invalid_promotion_code");
    let confirmed = json!({ "plan": "scale", "quantity": 2, "promotion_code": "LAUNCH20", "confirm_token": token }).to_string();
    let done = api.post_json("/billing/upgrade", &agent, &confirmed).await;
    assert_eq!(done.body["status"], "switched", "{}", done.body);
    api.standin.webhooks_settled().await;
    let invoice = api.get("/billing/invoices", Some(&human)).await.body["data"][0].clone();
    assert_eq!((invoice["total"].as_i64(), invoice["discount"].as_i64()), (Some(due), Some(off)), "agreed = charged: {invoice}");
    assert_eq!(billing(&api, &human).await["discount"]["promotion_code"], "LAUNCH20");
}

#[tokio::test]
async fn with_tax_and_a_code_the_amount_an_agent_agrees_to_is_the_invoice_total() {
    let vars = [("CATALOG_FILE", DEMO_CATALOG), ("AUTOMATIC_TAX", "on")];
    let api = StripeTestApi::with_webhooks_and(&vars).await;
    let human = api.org_with_key("acme").await;
    let reply = api.post_json("/billing/checkout", &human, &checkout_with("LAUNCH20")).await;
    assert_eq!((reply.status, &reply.body["trial_days"]), (200, &json!(14)), "{}", reply.body);
    let session = api.calls("POST", SESSIONS).pop().unwrap().params;
    assert_eq!(session["automatic_tax"]["enabled"], "true");
    assert_eq!((&session["billing_address_collection"], &session["tax_id_collection"]["enabled"]), (&json!("required"), &json!("true")));
    assert_eq!(session["customer_update"]["address"], "auto");
    api.standin.pay_checkout(reply.body["session_id"].as_str().unwrap()).await.unwrap();
    api.standin.webhooks_settled().await;
    assert_eq!(billing(&api, &human).await["status"], "trialing");

    let (_, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    let asked = api.post_json("/billing/trial/end", &agent, "{}").await;
    assert_eq!(asked.body["status"], "confirmation_required", "{}", asked.body);
    let change = &asked.body["change"];
    assert_eq!(
        (&change["amount_due_now"], &change["discount_due_now"], &change["tax_due_now"]),
        (&json!(1672), &json!(380), &json!(152)),
        "$19.00 less 20%, plus 10% tax: {change}"
    );
    let message = asked.body["message"].as_str().unwrap();
    assert!(message.contains("$16.72") && message.contains("$1.52 tax included") && message.contains("$3.80 discount"), "{message}");

    let token = asked.body["confirm_token"].as_str().unwrap();
    let confirmed = api.post_json("/billing/trial/end", &agent, &format!(r#"{{"confirm_token":"{token}"}}"#)).await;
    assert_eq!(confirmed.body["status"], "trial-ended", "{}", confirmed.body);
    let invoice = api.get("/billing/invoices", Some(&human)).await.body["data"][0].clone();
    assert_eq!(invoice["total"], change["amount_due_now"], "the amount agreed is the amount charged: {invoice}");
    let (subtotal, discount, tax) = (invoice["subtotal"].as_i64(), invoice["discount"].as_i64(), invoice["tax"].as_i64());
    assert_eq!((subtotal, discount, tax), (Some(1900), Some(380), Some(152)));
    assert_eq!(invoice["total"].as_i64(), Some(1900 - 380 + 152), "total = subtotal - discount + tax");
    assert_eq!(invoice["status"], "paid");
}
