//! Web-mode consent: an agent asks with `mode: "web"`, a HUMAN of the org approves or denies,
//! the agent polls (RFC 8628 pace). Against DynamoDB Local and the Stripe stand-in; time is
//! moved by calling the use cases with a later `now`, never waited for.

use billing_shared::billing::plan_change::approval;
use billing_shared::domain::approval::APPROVAL_TTL_SECS;
use billing_shared::domain::principal::{Principal, PrincipalKind};
use billing_shared::now;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{Reply, assert_envelope, json};

async fn ask_web(api: &StripeTestApi, agent: &str, path: &str, body: &str) -> (String, Reply) {
    let reply = api.post_json(path, agent, body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "web-approve-required", "{}", reply.body);
    (reply.body["approval_id"].as_str().unwrap().to_string(), reply)
}

fn agent_principal() -> Principal {
    Principal { org_id: "acme".into(), principal_id: "assistant".into(), key_id: "key_assistant".into(), kind: PrincipalKind::Agent }
}

fn human_principal() -> Principal {
    Principal { org_id: "acme".into(), principal_id: "owner".into(), key_id: "key_owner".into(), kind: PrincipalKind::Human }
}

#[tokio::test]
async fn an_agent_asks_in_web_mode_and_one_human_approval_executes_the_change_once() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let (id, ask) = ask_web(&api, &agent, "/billing/upgrade", r#"{"plan":"scale","quantity":2,"mode":"web"}"#).await;
    assert!(id.starts_with("ap_") && id.len() >= 35, "{id}");
    assert!(ask.body["approval_url"].as_str().unwrap().ends_with(&format!("/approve/{id}")), "{}", ask.body);
    assert!(ask.body["polling_url"].as_str().unwrap().ends_with(&format!("/billing/approvals/{id}")), "{}", ask.body);
    assert_eq!((ask.body["expires_in"].as_i64(), ask.body["interval"].as_i64()), (Some(APPROVAL_TTL_SECS), Some(5)));
    let code = ask.body["binding_code"].as_str().unwrap();
    assert_eq!(code.len(), 7, "{code}");
    let due = ask.body["change"]["amount_due_now"].as_i64().unwrap();
    assert!(due > 0, "the amount from Stripe's preview: {}", ask.body);
    assert_eq!(ask.body["change"]["to"], json!({"plan": "scale", "interval": "month", "quantity": 2}));
    assert_eq!(api.subscription_updates(), 0, "asking changes nothing");
    let items = api.items_with_pk_prefix("APPROVAL#").await;
    assert_eq!(items.len(), 1);
    assert!(!format!("{:?}", items[0]).contains(&id), "only the id's hash is stored");
    assert!(items[0].contains_key("expires_at"), "DynamoDB's TTL removes it");

    let poll = api.get(&format!("/billing/approvals/{id}"), Some(&human)).await;
    assert_eq!(poll.status, 200, "{}", poll.body);
    assert_eq!(
        (&poll.body["status"], &poll.body["binding_code"], &poll.body["requested_by"]),
        (&json!("pending"), &json!(code), &json!("assistant"))
    );
    assert_eq!(poll.body["change"], ask.body["change"], "the page shows what the agent was told");

    assert_envelope(&api.post_json(&format!("/billing/approvals/{id}/approve"), &agent, "").await, 403, "forbidden");
    assert_eq!(api.subscription_updates(), 0, "an agent cannot approve its own request");

    let approved = api.post_json(&format!("/billing/approvals/{id}/approve"), &human, "").await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!((&approved.body["status"], &approved.body["result"]["status"]), (&json!("approved"), &json!("switched")));
    assert_eq!(approved.body["result"]["billing"]["plan"], "scale");
    assert_eq!(api.subscription_updates(), 1);
    let invoice = api.standin.events().into_iter().rev().find(|e| e["type"] == "invoice.paid").unwrap();
    assert_eq!(invoice["data"]["object"]["amount_paid"].as_i64(), Some(due), "the amount shown is the amount charged");

    let again = api.post_json(&format!("/billing/approvals/{id}/approve"), &human, "{}").await;
    assert_envelope(&again, 409, "approval_not_pending");
    assert_eq!((&again.body["details"]["status"], &again.body["details"]["result"]["status"]), (&json!("approved"), &json!("switched")));
    assert_envelope(&api.post_json(&format!("/billing/approvals/{id}/deny"), &human, "").await, 409, "approval_not_pending");
    assert_eq!(api.subscription_updates(), 1, "approved once, executed once");

    let seen = json!(approval::status(&api.app, &agent_principal(), &id, now() + 30).await.unwrap());
    assert_eq!(
        (&seen["status"], &seen["result"]["status"], &seen["decided_by"]),
        (&json!("approved"), &json!("switched"), &json!("owner"))
    );
    api.standin.webhooks_settled().await;
    assert_eq!(api.get("/billing", Some(&human)).await.body["plan"], "scale");
}

#[tokio::test]
async fn a_denied_request_changes_nothing_and_stays_denied() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let (id, ask) = ask_web(&api, &agent, "/billing/downgrade", r#"{"mode":"web"}"#).await;
    assert_eq!(ask.body["change"]["to"]["plan"], "free");
    let denied = api.post_json(&format!("/billing/approvals/{id}/deny"), &human, "").await;
    assert_eq!((denied.status, &denied.body["status"]), (200, &json!("denied")), "{}", denied.body);
    let late = api.post_json(&format!("/billing/approvals/{id}/approve"), &human, "").await;
    assert_envelope(&late, 409, "approval_not_pending");
    assert_eq!(late.body["details"]["status"], "denied");
    assert_envelope(&api.post_json(&format!("/billing/approvals/{id}/deny"), &human, "").await, 409, "approval_not_pending");
    assert_eq!(api.get(&format!("/billing/approvals/{id}"), Some(&agent)).await.body["status"], "denied");
    assert_eq!(api.subscription_updates(), 0);
    assert_eq!(api.get("/billing", Some(&human)).await.body["cancel_at_period_end"], false);
}

#[tokio::test]
async fn approvals_are_bound_to_their_org_and_lapse_after_ten_minutes() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let (id, _) = ask_web(&api, &agent, "/billing/upgrade", r#"{"plan":"scale","mode":"web"}"#).await;
    let stranger = api.org_with_key("globex").await;
    let (_, stranger_agent) = api.issue_key("globex", "bot", PrincipalKind::Agent).await;
    assert_envelope(&api.get(&format!("/billing/approvals/{id}"), Some(&stranger)).await, 404, "not_found");
    assert_envelope(&api.get(&format!("/billing/approvals/{id}"), Some(&stranger_agent)).await, 404, "not_found");
    assert_envelope(&api.post_json(&format!("/billing/approvals/{id}/approve"), &stranger, "").await, 404, "not_found");
    assert_envelope(&api.post_json(&format!("/billing/approvals/{id}/deny"), &stranger, "").await, 404, "not_found");
    assert_envelope(&api.post_json(&format!("/billing/approvals/{id}/approve"), &stranger_agent, "").await, 403, "forbidden");
    assert_envelope(&api.get("/billing/approvals/ap_00000000000000000000000000000000", Some(&human)).await, 404, "not_found");
    assert_envelope(&api.post_json(&format!("/billing/approvals/{id}/approve"), &human, r#"{"ok":true}"#).await, 400, "validation_failed");

    let late = now() + APPROVAL_TTL_SECS + 1;
    assert_eq!(json!(approval::status(&api.app, &agent_principal(), &id, late).await.unwrap())["status"], "expired");
    let err = approval::approve(&api.app, &human_principal(), &id, late).await.unwrap_err();
    assert_eq!((err.kind.code(), &err.details.unwrap()["status"]), ("approval_not_pending", &json!("expired")));
    let err = approval::deny(&api.app, &human_principal(), &id, late).await.unwrap_err();
    assert_eq!(err.details.unwrap()["status"], "expired");
    assert_eq!(api.subscription_updates(), 0);
    assert_eq!(api.get(&format!("/billing/approvals/{id}"), Some(&human)).await.body["status"], "pending", "still pending now");
}

#[tokio::test]
async fn an_agent_polling_faster_than_the_interval_is_slowed_down() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let (id, _) = ask_web(&api, &agent, "/billing/upgrade", r#"{"plan":"scale","mode":"web"}"#).await;
    let path = format!("/billing/approvals/{id}");
    assert_eq!(api.get(&path, Some(&agent)).await.body["status"], "pending");
    let fast = api.get(&path, Some(&agent)).await;
    assert_envelope(&fast, 429, "slow_down");
    assert_eq!(fast.body["details"]["interval"], 10);
    assert_eq!(fast.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("10"));
    for _ in 0..3 {
        assert_eq!(api.get(&path, Some(&human)).await.status, 200, "a human reading the page is not a poller");
    }
    let agent = agent_principal();
    let t = now();
    assert_eq!(json!(approval::status(&api.app, &agent, &id, t + 12).await.unwrap())["interval"], 10, "the raised interval stays");
    let err = approval::status(&api.app, &agent, &id, t + 15).await.unwrap_err();
    assert_eq!((err.kind.code(), err.retry_after()), ("slow_down", Some(15)));
    assert_eq!(json!(approval::status(&api.app, &agent, &id, t + 40).await.unwrap())["status"], "pending");
}

#[tokio::test]
async fn executing_another_change_voids_a_pending_approval() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let (id, _) = ask_web(&api, &agent, "/billing/upgrade", r#"{"plan":"scale","mode":"web"}"#).await;
    let (other, _) = ask_web(&api, &agent, "/billing/downgrade", r#"{"mode":"web"}"#).await;
    assert_eq!(api.post_json("/billing/upgrade", &human, r#"{"plan":"pro","interval":"year"}"#).await.body["status"], "switched");
    let updates = api.subscription_updates();
    assert_eq!(api.get(&format!("/billing/approvals/{id}"), Some(&human)).await.body["status"], "failed");
    let refused = api.post_json(&format!("/billing/approvals/{id}/approve"), &human, "").await;
    assert_envelope(&refused, 409, "approval_not_pending");
    assert_eq!(refused.body["details"]["status"], "failed");
    assert_envelope(&api.post_json(&format!("/billing/approvals/{other}/approve"), &human, "").await, 409, "approval_not_pending");
    assert_eq!(api.subscription_updates(), updates, "a void approval runs nothing");
}

#[tokio::test]
async fn two_humans_approving_at_once_execute_the_change_once() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let (_, admin) = api.issue_key("acme", "admin", PrincipalKind::Admin).await;
    let (id, _) = ask_web(&api, &agent, "/billing/upgrade", r#"{"plan":"scale","mode":"web"}"#).await;
    let path = format!("/billing/approvals/{id}/approve");
    let keys = [&human, &admin, &human, &admin];
    let replies = futures::future::join_all(keys.iter().map(|key| api.post_json(&path, key, ""))).await;
    let approved = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(approved, 1, "{:?}", replies.iter().map(|r| r.body.to_string()).collect::<Vec<_>>());
    for reply in replies.iter().filter(|r| r.status != 200) {
        assert!(["approval_not_pending", "change_in_progress"].contains(&reply.body["error"].as_str().unwrap()), "{}", reply.body);
    }
    assert_eq!(api.subscription_updates(), 1, "exactly one Stripe update");
}

#[tokio::test]
async fn a_declined_card_fails_the_approval_and_keeps_the_old_plan() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let customer = api.app.store.get_org("acme").await.unwrap().unwrap().stripe_customer_id.unwrap();
    let (id, _) = ask_web(&api, &agent, "/billing/upgrade", r#"{"plan":"scale","mode":"web"}"#).await;
    api.standin.decline_payments(&customer);
    assert_envelope(&api.post_json(&format!("/billing/approvals/{id}/approve"), &human, "").await, 402, "payment_failed");
    let seen = api.get(&format!("/billing/approvals/{id}"), Some(&human)).await.body;
    assert_eq!((&seen["status"], &seen["result"]["error"]), (&json!("failed"), &json!("payment_failed")), "{seen}");
    api.standin.webhooks_settled().await;
    assert_eq!(api.get("/billing", Some(&human)).await.body["plan"], "pro");
}

#[tokio::test]
async fn a_human_asking_in_web_mode_is_not_asked_for_consent() {
    let (api, human, _) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let reply = api.post_json("/billing/upgrade", &human, r#"{"plan":"scale","mode":"web"}"#).await;
    assert_eq!(reply.body["status"], "switched", "{}", reply.body);
    assert!(api.items_with_pk_prefix("APPROVAL#").await.is_empty());
}

#[tokio::test]
async fn the_approval_page_is_served_without_a_key_under_a_strict_policy() {
    let api = StripeTestApi::new().await;
    let reply = api.get("/approve/ap_0123456789abcdef0123456789abcdef", None).await;
    assert_eq!(reply.status, 200);
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let csp = header("content-security-policy");
    assert!(csp.starts_with("default-src 'none'") && csp.contains("connect-src 'self'") && !csp.contains("unsafe"), "{csp}");
    assert_eq!(header("x-frame-options"), "DENY");
    let page = reply.body.as_str().unwrap();
    assert!(page.contains("Approve a plan change") && page.contains("type=\"password\""));
    assert!(api.items_with_pk_prefix("APPROVAL#").await.is_empty());
}

/// Found by Schemathesis: the page was served for any id, even one no approval can have.
#[tokio::test]
async fn the_approval_page_of_what_cannot_be_an_approval_id_is_404() {
    let api = StripeTestApi::new().await;
    let long = format!("/approve/{}", "0".repeat(256));
    for path in ["/approve/ap_0123", "/approve/ap_0123456789ABCDEF0123456789ABCDEF", "/approve/x", long.as_str()] {
        let reply = api.get(path, None).await;
        assert_envelope(&reply, 404, "not_found");
    }
}
