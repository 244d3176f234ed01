//! Credits Checkout, the Customer Portal and invoice history against the Stripe stand-in.

use billing_tests::stripe::{StripeTestApi, api_with_stripe_down};
use billing_tests::{assert_envelope, json};

const SESSIONS: &str = "/v1/checkout/sessions";

#[tokio::test]
async fn credits_checkout_buys_bundles_at_the_catalog_price() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let reply = api.post_json("/billing/credits/checkout", &token, r#"{"quantity":3}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let session_id = reply.body["session_id"].as_str().unwrap();
    assert!(reply.body["checkout_url"].as_str().unwrap().contains(session_id));

    let sessions = api.calls("POST", SESSIONS);
    assert_eq!(sessions.len(), 1);
    let params = &sessions[0].params;
    assert_eq!(params["mode"], "payment");
    assert_eq!(params["line_items"]["0"]["price"], "price_credits_bundle");
    assert_eq!(params["line_items"]["0"]["quantity"], "3");
    assert_eq!(params["metadata"], json!({"org_id": "acme", "purpose": "credits", "bundles": "3", "credits": "300"}));
    assert_eq!(params["payment_intent_data"]["metadata"]["credits"], "300");
    assert_eq!(params["client_reference_id"], "acme");
    assert_eq!(params["invoice_creation"]["enabled"], "true", "credit purchases get an invoice");

    let org = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!(org.credits, 0, "credits land when Stripe confirms payment");
    assert_eq!(org.stripe_customer_id.as_deref(), params["customer"].as_str(), "the new customer is recorded");
    assert!(org.pending_checkout.is_none(), "credit purchases do not block a subscription checkout");
}

#[tokio::test]
async fn credits_bad_input_is_refused_before_stripe() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let before = api.items().await;
    for (body, field) in [
        (r#"{"quantity":0}"#, "quantity"),
        (r#"{"quantity":11}"#, "quantity"),
        (r#"{"quantity":"3"}"#, "quantity"),
        (r#"{"quantity":2.5}"#, "quantity"),
        (r#"{}"#, "quantity"),
        (r#"{"quantity":1,"price":"price_free_money"}"#, "price"),
        (r#"{"quantity":1,"success_url":"http://app.example.com/"}"#, "success_url"),
    ] {
        let reply = api.post_json("/billing/credits/checkout", &token, body).await;
        assert_envelope(&reply, 400, "validation_failed");
        assert_eq!(reply.body["details"]["fields"][0]["field"], field, "{body}");
    }
    assert_envelope(&api.post_json("/billing/credits/checkout", &token, "{quantity: 1}").await, 400, "malformed_json");
    assert!(api.standin.requests().is_empty());
    assert_eq!(api.items().await, before);
}

#[tokio::test]
async fn portal_needs_a_customer_then_opens_with_an_allowed_return_url() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    assert_envelope(&api.post_json("/billing/portal", &token, "{}").await, 409, "no_stripe_customer");
    assert!(api.standin.requests().is_empty());

    assert_eq!(api.post_json("/billing/credits/checkout", &token, r#"{"quantity":1}"#).await.status, 200);
    let reply = api.post_json("/billing/portal", &token, "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body["url"].as_str().unwrap().starts_with("http"));
    let portal = api.calls("POST", "/v1/billing_portal/sessions");
    assert_eq!(portal[0].params["return_url"], "https://app.example.com/billing");
    let customer = api.app.store.get_org("acme").await.unwrap().unwrap().stripe_customer_id.unwrap();
    assert_eq!(portal[0].params["customer"], customer.as_str());

    // An agent may fetch the link for its human.
    let (_, agent) = api.issue_key("acme", "assistant", billing_shared::domain::principal::PrincipalKind::Agent).await;
    let reply = api.post_json("/billing/portal", &agent, "{}").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(api.calls("POST", "/v1/billing_portal/sessions").len(), 2);

    let reply = api.post_json("/billing/portal", &token, r#"{"return_url":"https://app.example.com/settings"}"#).await;
    assert_eq!(reply.status, 200);
    let reply = api.post_json("/billing/portal", &token, r#"{"return_url":"https://phish.example.net/"}"#).await;
    assert_envelope(&reply, 400, "validation_failed");
    assert_eq!(reply.body["details"]["fields"][0]["field"], "return_url");
    assert_eq!(api.calls("POST", "/v1/billing_portal/sessions").len(), 3);
}

#[tokio::test]
async fn a_deployment_can_keep_agents_out_of_the_portal() {
    let api = StripeTestApi::with_config(&[("AGENT_PORTAL_ACCESS", "off")]).await;
    let token = api.org_with_key("acme").await;
    assert_eq!(api.post_json("/billing/credits/checkout", &token, r#"{"quantity":1}"#).await.status, 200);
    let (_, agent) = api.issue_key("acme", "assistant", billing_shared::domain::principal::PrincipalKind::Agent).await;
    let calls = api.standin.requests().len();
    assert_envelope(&api.post_json("/billing/portal", &agent, "{}").await, 403, "forbidden");
    assert_eq!(api.standin.requests().len(), calls, "no portal session for an agent here");
    assert_eq!(api.post_json("/billing/portal", &token, "{}").await.status, 200, "humans still get one");
}

#[tokio::test]
async fn invoices_are_empty_without_a_customer_and_listed_after_payment() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let reply = api.get("/billing/invoices", Some(&token)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"data": [], "has_more": false}));
    assert!(api.standin.requests().is_empty(), "no customer, no Stripe call");

    for plan in ["pro"] {
        let reply = api.post_json("/billing/checkout", &token, &json!({"plan": plan, "interval": "month"}).to_string()).await;
        api.standin.pay_checkout(reply.body["session_id"].as_str().unwrap()).await.unwrap();
    }
    let credits = api.post_json("/billing/credits/checkout", &token, r#"{"quantity":2}"#).await;
    api.standin.pay_checkout(credits.body["session_id"].as_str().unwrap()).await.unwrap();

    let reply = api.get("/billing/invoices", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let invoices = reply.body["data"].as_array().unwrap();
    assert!(!invoices.is_empty());
    let first = &invoices[invoices.len() - 1];
    for key in [
        "id",
        "number",
        "status",
        "currency",
        "amount_due",
        "amount_paid",
        "total",
        "created",
        "period_start",
        "period_end",
        "hosted_invoice_url",
        "invoice_pdf",
    ] {
        assert!(first.get(key).is_some(), "invoice has `{key}`: {first}");
    }
    let subscription_invoice = invoices.iter().find(|i| i["amount_paid"] == 1900).expect("the paid subscription invoice");
    assert_eq!(subscription_invoice["status"], "paid");
    assert_eq!(subscription_invoice["currency"], "usd");
    let listed = api.calls("GET", "/v1/invoices");
    let customer = api.app.store.get_org("acme").await.unwrap().unwrap().stripe_customer_id.unwrap();
    assert_eq!(listed[0].params["customer"], customer.as_str(), "only this org's customer is listed");
    assert_eq!(listed[0].params["limit"], "10");
}

#[tokio::test]
async fn invoices_page_and_refuse_bad_paging() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    for quantity in [1, 2] {
        let reply = api.post_json("/billing/credits/checkout", &token, &json!({"quantity": quantity}).to_string()).await;
        api.standin.pay_checkout(reply.body["session_id"].as_str().unwrap()).await.unwrap();
    }
    let page1 = api.get("/billing/invoices?limit=1", Some(&token)).await;
    assert_eq!(page1.status, 200, "{}", page1.body);
    let invoices = page1.body["data"].as_array().unwrap().clone();
    assert_eq!(invoices.len(), 1, "{}", page1.body);
    assert_eq!(page1.body["has_more"], true);
    let cursor = invoices[0]["id"].as_str().unwrap();
    let page2 = api.get(&format!("/billing/invoices?limit=1&starting_after={cursor}"), Some(&token)).await;
    assert_eq!(page2.status, 200);
    assert_eq!(page2.body["data"].as_array().unwrap().len(), 1);
    assert_ne!(page2.body["data"][0]["id"], invoices[0]["id"]);
    assert_eq!(page2.body["has_more"], false);
    assert_eq!(api.calls("GET", "/v1/invoices").last().unwrap().params["starting_after"], cursor);
    let unknown = api.get("/billing/invoices?starting_after=in_doesnotexist", Some(&token)).await;
    // A well-formed id this org has no invoice of: 404, like anything of another org.
    assert_envelope(&unknown, 404, "not_found");
    assert!(unknown.body["message"].as_str().unwrap().contains("in_doesnotexist"));
    let before = api.standin.requests().len();
    for query in ["limit=0", "limit=101", "limit=abc", "starting_after=cus_123", "limit=1&limit=2", "customer=cus_other"] {
        let reply = api.get(&format!("/billing/invoices?{query}"), Some(&token)).await;
        assert_envelope(&reply, 400, "validation_failed");
    }
    assert_eq!(api.standin.requests().len(), before, "bad paging never reaches Stripe");
}

#[tokio::test]
async fn invoices_when_stripe_fails_are_502() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    assert_eq!(api.post_json("/billing/credits/checkout", &token, r#"{"quantity":1}"#).await.status, 200);
    api.standin.fail_next(3, 500);
    assert_envelope(&api.get("/billing/invoices", Some(&token)).await, 502, "stripe_error");

    let down = api_with_stripe_down().await;
    let token = down.org_with_key("acme").await;
    let mut org = down.app.store.get_org("acme").await.unwrap().unwrap();
    org.stripe_customer_id = Some("cus_123".into());
    down.app.store.save_org(&mut org).await.unwrap();
    assert_envelope(&down.get("/billing/invoices", Some(&token)).await, 502, "stripe_error");
    assert_envelope(&down.post_json("/billing/portal", &token, "{}").await, 502, "stripe_error");
    assert_envelope(&down.post_json("/billing/credits/checkout", &token, r#"{"quantity":1}"#).await, 502, "stripe_error");
}
