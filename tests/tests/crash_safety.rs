//! Money stays true when a function dies between Stripe's answer and its DynamoDB write. The
//! stand-in applies the chosen Stripe request and never answers it; the function's task is then
//! aborted, so none of its code after that call runs (as with a SIGKILL, nothing is written on
//! the way out). Then, for every Stripe-writing plan change: the client retries; or only the
//! webhook arrives; or nothing arrives and the reconciler runs. Each time
//! Stripe applied the change once, every answer is truthful, the org converges on Stripe's
//! state, and no intent (lock) is left.

use std::time::Duration;

use billing_shared::billing::reconcile;
use billing_shared::domain::activity::{Activity, Consent, Event};
use billing_shared::domain::principal::Actor;
use billing_shared::now;
use billing_tests::stripe::{StripeTestApi, WEBHOOK_SECRET};
use billing_tests::{Reply, assert_envelope, json};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    UpgradeNow,
    UpgradeAtPeriodEnd,
    Downgrade,
    Resume,
    ChatConfirm,
    WebApprove,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum After {
    ClientRetries,
    OnlyTheWebhook,
    Reconciler,
}

/// An org on the plan the change starts from, and the request that makes it: (path, key, body).
struct Setup {
    api: StripeTestApi,
    human: String,
    agent: String,
    request: (String, String, String),
}

async fn setup(op: Op) -> Setup {
    let start = match op {
        Op::UpgradeAtPeriodEnd => r#"{"plan":"scale","interval":"month"}"#,
        _ => r#"{"plan":"pro","interval":"month"}"#,
    };
    let (api, human, agent) = StripeTestApi::subscribed(start).await;
    let request = match op {
        Op::UpgradeNow => ("/billing/upgrade".into(), human.clone(), r#"{"plan":"scale"}"#.into()),
        Op::UpgradeAtPeriodEnd => ("/billing/upgrade".into(), human.clone(), r#"{"plan":"pro"}"#.into()),
        Op::Downgrade => ("/billing/downgrade".into(), human.clone(), "{}".into()),
        Op::Resume => {
            let scheduled = api.post_json("/billing/downgrade", &human, "{}").await;
            assert_eq!(scheduled.body["status"], "downgrade-scheduled", "{}", scheduled.body);
            api.standin.webhooks_settled().await;
            ("/billing/upgrade".into(), human.clone(), r#"{"plan":"pro"}"#.into())
        }
        Op::ChatConfirm => {
            let ask = api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale"}"#).await;
            let token = ask.body["confirm_token"].as_str().expect("a confirm token").to_string();
            ("/billing/upgrade".into(), agent.clone(), format!(r#"{{"plan":"scale","confirm_token":"{token}"}}"#))
        }
        Op::WebApprove => {
            let ask = api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale","mode":"web"}"#).await;
            let id = ask.body["approval_id"].as_str().expect("an approval id").to_string();
            (format!("/billing/approvals/{id}/approve"), human.clone(), String::new())
        }
    };
    Setup { api, human, agent, request }
}

/// The Stripe write the change makes, which the function dies right after.
fn trapped_write(api: &StripeTestApi, op: Op) -> String {
    match op {
        Op::UpgradeAtPeriodEnd => "/v1/subscription_schedules/".into(),
        _ => format!("/v1/subscriptions/{}", api.subscription_id()),
    }
}

/// Serves `path` in a task, and kills that task right after Stripe applied the trapped request.
async fn killed_after_stripe(api: &StripeTestApi, trapped: &str, (path, key, body): &(String, String, String)) {
    api.standin.hang_after("POST", trapped);
    let request = http::Request::builder()
        .method("POST")
        .uri(path.as_str())
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(body.clone().into_bytes().into())
        .unwrap();
    let gateway = api.gateway.clone();
    let function = tokio::spawn(async move { gateway.handle(request).await });
    tokio::time::timeout(Duration::from_secs(20), api.standin.trapped()).await.expect("the change reached Stripe");
    function.abort();
    assert!(function.await.unwrap_err().is_cancelled(), "the function died before answering");
}

/// What Stripe applied: the plan the org must show, and whether a cancel or change is scheduled.
fn expected(op: Op) -> (&'static str, Option<&'static str>) {
    match op {
        Op::UpgradeNow | Op::ChatConfirm | Op::WebApprove => ("scale", None),
        Op::UpgradeAtPeriodEnd => ("scale", Some("pro")),
        Op::Downgrade => ("pro", Some("free")),
        Op::Resume => ("pro", None),
    }
}

fn stripe_writes(api: &StripeTestApi, trapped: &str) -> usize {
    api.standin.requests().iter().filter(|r| r.method == "POST" && r.path.starts_with(trapped) && !r.replayed && r.status == 200).count()
}

/// The retried call's answer, which must say what happened.
fn assert_truthful_retry(op: Op, reply: &Reply) {
    let (plan, scheduled) = expected(op);
    match op {
        Op::ChatConfirm => {
            assert_envelope(reply, 400, "invalid_confirm_token");
            assert_eq!(reply.body["details"]["reason"], "used");
            assert_eq!(reply.body["details"]["result"]["status"], "switched", "a retry learns it went through: {}", reply.body);
        }
        Op::WebApprove => {
            assert_envelope(reply, 409, "approval_not_pending");
            assert_eq!(reply.body["details"]["status"], "approved", "{}", reply.body);
            assert_eq!(reply.body["details"]["result"]["status"], "switched", "{}", reply.body);
        }
        _ => {
            assert_eq!(reply.status, 200, "{}", reply.body);
            let status = match op {
                Op::UpgradeNow => "switched",
                Op::UpgradeAtPeriodEnd => "change-scheduled",
                Op::Downgrade => "downgrade-scheduled",
                _ => "resumed",
            };
            assert_eq!(reply.body["status"], status, "{}", reply.body);
            assert_eq!(reply.body["billing"]["plan"], plan);
            assert_eq!(reply.body["billing"]["scheduled_change"]["plan"].as_str(), scheduled, "{}", reply.body);
        }
    }
}

async fn converged(setup: &Setup, op: Op) {
    let api = &setup.api;
    let (plan, scheduled) = expected(op);
    let billing = api.get("/billing", Some(&setup.human)).await.body;
    assert_eq!(billing["plan"], plan, "{billing}");
    assert_eq!(billing["scheduled_change"]["plan"].as_str(), scheduled, "{billing}");
    assert_eq!(billing["change_being_confirmed"], Value::Null, "{billing}");
    let org = api.app.store.get_org("acme").await.unwrap().unwrap();
    assert_eq!(org.change_intent, None, "no lock is left");
    assert!(api.app.store.orgs_with_intents(10).await.unwrap().is_empty(), "nothing stuck in the index");
    let item = api.org_item("acme").await;
    assert!(!item.contains_key("GSI2PK") && !item.contains_key("change_intent"), "no half-written intent: {item:?}");
    match op {
        Op::WebApprove => {
            let id = setup.request.0.split('/').nth(3).unwrap();
            let poll = api.get(&format!("/billing/approvals/{id}"), Some(&setup.agent)).await.body;
            assert_eq!(poll["status"], "approved", "{poll}");
            assert_eq!(poll["result"]["status"], "switched", "{poll}");
        }
        Op::ChatConfirm => {
            let consent = api.items_with_pk_prefix("CONSENT#").await.pop().unwrap();
            assert!(consent["result"].as_s().unwrap().contains("switched"), "the used token records what it did");
        }
        _ => {}
    }
}

async fn crash(op: Op, after: After) {
    let setup = setup(op).await;
    let api = &setup.api;
    let trapped = trapped_write(api, op);
    let before = stripe_writes(api, &trapped);
    if after != After::OnlyTheWebhook {
        api.standin.set_webhook(None, WEBHOOK_SECRET.into());
    }
    let changes_before = plan_changes(api).await.len();
    killed_after_stripe(api, &trapped, &setup.request).await;
    assert_eq!(stripe_writes(api, &trapped), before + 1, "Stripe applied the change");

    if after != After::OnlyTheWebhook {
        // Before anything completes it, a reader is told the outcome is being confirmed.
        let billing = api.get("/billing", Some(&setup.human)).await.body;
        assert!(billing["change_being_confirmed"]["since"].is_i64(), "{billing}");
    }
    match after {
        After::ClientRetries => {
            let (path, key, body) = &setup.request;
            let reply = api.post_json(path, key, body).await;
            assert_truthful_retry(op, &reply);
        }
        After::OnlyTheWebhook => api.standin.webhooks_settled().await,
        After::Reconciler => {
            let first = reconcile::run(&api.app, None, now()).await.unwrap();
            assert_eq!(first.intents_completed, ["acme"]);
            assert!(first.drift.is_empty(), "{:?}", first.drift);
            let writes = |api: &StripeTestApi| api.standin.requests().iter().filter(|r| r.method != "GET").count();
            let before_second = writes(api);
            let second = reconcile::run(&api.app, None, now()).await.unwrap();
            assert!(second.intents_completed.is_empty() && second.events_applied == 0, "a second run changes nothing");
            assert_eq!(writes(api), before_second, "and writes nothing at Stripe");
        }
    }
    converged(&setup, op).await;
    assert_eq!(stripe_writes(api, &trapped), before + 1, "one Stripe write: replays are answered from Stripe's record");
    let changes = plan_changes(api).await;
    assert_eq!(changes.len(), changes_before + 1, "one billing.plan_changed record for the one change: {changes:?}");
    let reported = changes.last().unwrap();
    let (requester, consent) = match op {
        Op::ChatConfirm => ("assistant", Some("confirm_token")),
        Op::WebApprove => ("assistant", Some("web_approval")),
        _ => ("owner", None),
    };
    assert!(matches!(&reported.actor, Actor::Principal { principal_id, .. } if principal_id == requester), "{reported:?}");
    let kind = match &reported.consent {
        Some(Consent::ConfirmToken { confirm_token_hash }) => confirm_token_hash.as_ref().map(|_| "confirm_token"),
        Some(Consent::WebApproval { approved_by, approval_id }) => {
            (approved_by == "owner" && approval_id.is_some()).then_some("web_approval")
        }
        Some(Consent::Mandate { .. }) => Some("mandate"),
        None => None,
    };
    assert_eq!(kind, consent, "{reported:?}");
}

/// The org's `billing.plan_changed` records, oldest first.
async fn plan_changes(api: &StripeTestApi) -> Vec<Activity> {
    let mut records = api.app.store.recent_activity("acme", 100).await.unwrap();
    records.reverse();
    records.retain(|record| matches!(record.event, Event::PlanChanged { .. }));
    records
}

macro_rules! crash_tests {
    ($($name:ident: $op:expr, $after:expr;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                crash($op, $after).await;
            }
        )*
    };
}

crash_tests! {
    upgrade_now_then_the_client_retries: Op::UpgradeNow, After::ClientRetries;
    upgrade_now_then_only_the_webhook: Op::UpgradeNow, After::OnlyTheWebhook;
    upgrade_now_then_the_reconciler: Op::UpgradeNow, After::Reconciler;
    upgrade_at_period_end_then_the_client_retries: Op::UpgradeAtPeriodEnd, After::ClientRetries;
    upgrade_at_period_end_then_only_the_webhook: Op::UpgradeAtPeriodEnd, After::OnlyTheWebhook;
    upgrade_at_period_end_then_the_reconciler: Op::UpgradeAtPeriodEnd, After::Reconciler;
    downgrade_then_the_client_retries: Op::Downgrade, After::ClientRetries;
    downgrade_then_only_the_webhook: Op::Downgrade, After::OnlyTheWebhook;
    downgrade_then_the_reconciler: Op::Downgrade, After::Reconciler;
    resume_then_the_client_retries: Op::Resume, After::ClientRetries;
    resume_then_only_the_webhook: Op::Resume, After::OnlyTheWebhook;
    resume_then_the_reconciler: Op::Resume, After::Reconciler;
    chat_confirm_then_the_client_retries: Op::ChatConfirm, After::ClientRetries;
    chat_confirm_then_only_the_webhook: Op::ChatConfirm, After::OnlyTheWebhook;
    chat_confirm_then_the_reconciler: Op::ChatConfirm, After::Reconciler;
    web_approve_then_the_client_retries: Op::WebApprove, After::ClientRetries;
    web_approve_then_only_the_webhook: Op::WebApprove, After::OnlyTheWebhook;
    web_approve_then_the_reconciler: Op::WebApprove, After::Reconciler;
}

/// DynamoDB refuses the one write that follows Stripe's success: the caller is told the outcome
/// is being confirmed (never that nothing changed), and the retry completes it.
async fn refused_write(op: Op) {
    let setup = setup(op).await;
    let api = &setup.api;
    let trapped = trapped_write(api, op);
    let before = stripe_writes(api, &trapped);
    api.standin.set_webhook(None, WEBHOOK_SECRET.into());
    let (faulty, faults) = api.with_refusable_transactions();
    // The intent's write is the first transaction, the one after Stripe's answer the second.
    faults.refuse(2);
    let (path, key, body) = &setup.request;
    let reply = faulty.post_json(path, key, body).await;
    assert_envelope(&reply, 409, "change_in_progress");
    assert!(!reply.body["message"].as_str().unwrap().contains("nothing was changed"), "{}", reply.body);
    assert_eq!(reply.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    assert_eq!(stripe_writes(api, &trapped), before + 1, "Stripe applied the change");

    let retry = api.post_json(path, key, body).await;
    assert_truthful_retry(op, &retry);
    converged(&setup, op).await;
    assert_eq!(stripe_writes(api, &trapped), before + 1, "one Stripe write");
}

macro_rules! refused_write_tests {
    ($($name:ident: $op:expr;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                refused_write($op).await;
            }
        )*
    };
}

refused_write_tests! {
    upgrade_now_when_dynamodb_refuses_the_write_after_stripe: Op::UpgradeNow;
    upgrade_at_period_end_when_dynamodb_refuses_the_write_after_stripe: Op::UpgradeAtPeriodEnd;
    downgrade_when_dynamodb_refuses_the_write_after_stripe: Op::Downgrade;
    resume_when_dynamodb_refuses_the_write_after_stripe: Op::Resume;
    chat_confirm_when_dynamodb_refuses_the_write_after_stripe: Op::ChatConfirm;
    web_approve_when_dynamodb_refuses_the_write_after_stripe: Op::WebApprove;
}

/// The intent costs no extra DynamoDB round trip: a change is one read, the transaction that
/// records the intent (and claims the consent), and the one that records Stripe's result.
#[tokio::test]
async fn a_plan_change_is_one_read_and_two_writes() {
    for op in [Op::UpgradeNow, Op::WebApprove] {
        let setup = setup(op).await;
        setup.api.standin.set_webhook(None, WEBHOOK_SECRET.into());
        let (probed, probe) = setup.api.with_refusable_transactions();
        let (path, key, body) = &setup.request;
        assert_eq!(probed.post_json(path, key, body).await.status, 200);
        let read = if op == Op::WebApprove { "BatchGetItem" } else { "GetItem" };
        // The authorizer's GetItem of the key comes first.
        assert_eq!(probe.take_calls(), ["GetItem", read, "TransactWriteItems", "TransactWriteItems"], "{op:?}");
    }
}

/// Checkout and credits Checkout: the function dies right after Stripe made the session. The
/// retry gets that same session (Stripe's saved answer); paying it lands once, by the webhook
/// or, with every delivery lost, by the reconciler.
async fn checkout_crash(path: &str, body: &str, after: After) {
    let api = StripeTestApi::with_webhooks().await;
    let human = api.org_with_key("acme").await;
    if path.contains("credits") {
        // Credits are bought by an org that has its customer already.
        let first = api.post_json(path, &human, r#"{"quantity":1}"#).await;
        assert_eq!(first.status, 200, "{}", first.body);
    }
    if after != After::OnlyTheWebhook {
        api.standin.drop_webhooks(true);
    }
    let sessions = |api: &StripeTestApi| api.calls("POST", "/v1/checkout/sessions").iter().filter(|r| !r.replayed).count();
    let before = sessions(&api);
    let request = (path.to_string(), human.clone(), body.to_string());
    killed_after_stripe(&api, "/v1/checkout/sessions", &request).await;
    assert_eq!(sessions(&api), before + 1);

    let retry = api.post_json(path, &human, body).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(sessions(&api), before + 1, "the retry is Stripe's saved session, not a second one");
    let session_id = retry.body["session_id"].as_str().unwrap();
    api.standin.pay_checkout(session_id).await.unwrap();
    match after {
        After::Reconciler => {
            reconcile::run(&api.app, None, now()).await.unwrap();
            let again = reconcile::run(&api.app, None, now()).await.unwrap();
            assert_eq!(again.events_applied, 0);
        }
        _ => api.standin.webhooks_settled().await,
    }
    let billing = api.get("/billing", Some(&human)).await.body;
    if path.contains("credits") {
        let granted = api.items_with_pk_prefix("CREDITS#").await.len();
        assert_eq!(granted, 1, "the paid session's credits are granted once");
        assert!(billing["credits"].as_i64().unwrap() > 0, "{billing}");
    } else {
        assert_eq!((&billing["plan"], &billing["status"]), (&json!("pro"), &json!("active")), "{billing}");
    }
}

#[tokio::test]
async fn checkout_then_the_client_retries_and_pays() {
    checkout_crash("/billing/checkout", r#"{"plan":"pro","interval":"month"}"#, After::OnlyTheWebhook).await;
}

#[tokio::test]
async fn checkout_then_the_reconciler_after_lost_webhooks() {
    checkout_crash("/billing/checkout", r#"{"plan":"pro","interval":"month"}"#, After::Reconciler).await;
}

#[tokio::test]
async fn credits_checkout_then_the_client_retries_and_pays() {
    checkout_crash("/billing/credits/checkout", r#"{"quantity":2}"#, After::OnlyTheWebhook).await;
}

#[tokio::test]
async fn credits_checkout_then_the_reconciler_after_lost_webhooks() {
    checkout_crash("/billing/credits/checkout", r#"{"quantity":2}"#, After::Reconciler).await;
}

/// A change made at Stripe (the customer cancels in the portal) voids the consents computed
/// before it, as an executed change does: a token and an approval for the old plan are refused.
#[tokio::test]
async fn a_webhook_that_changes_the_subscription_voids_earlier_consents() {
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let ask = api.post_json("/billing/downgrade", &agent, "{}").await;
    let token = ask.body["confirm_token"].as_str().expect("a confirm token").to_string();
    let web = api.post_json("/billing/upgrade", &agent, r#"{"plan":"scale","mode":"web"}"#).await;
    let id = web.body["approval_id"].as_str().expect("an approval id").to_string();

    let cancel = stripe_billing::subscription::UpdateSubscription::new(api.subscription_id().as_str()).cancel_at_period_end(true);
    cancel.send(&api.stripe_client()).await.unwrap();
    api.standin.webhooks_settled().await;
    let updates = api.subscription_updates();

    let confirm = api.post_json("/billing/downgrade", &agent, &format!(r#"{{"confirm_token":"{token}"}}"#)).await;
    assert_envelope(&confirm, 400, "invalid_confirm_token");
    assert_eq!(confirm.body["details"]["reason"], "mismatch", "{}", confirm.body);
    assert_eq!(api.get(&format!("/billing/approvals/{id}"), Some(&agent)).await.body["status"], "failed");
    let approve = api.post_json(&format!("/billing/approvals/{id}/approve"), &human, "").await;
    assert_envelope(&approve, 409, "approval_not_pending");
    assert_eq!(api.subscription_updates(), updates, "nothing computed on the old plan ran");
}

/// DynamoDB fails the intent's own write (before any Stripe call): such a write may still have
/// been applied, so the answer is "being confirmed", not "nothing changed"; the retry executes
/// the change once.
#[tokio::test]
async fn an_upgrade_whose_intent_write_fails_is_confirmed_by_the_retry() {
    let setup = setup(Op::UpgradeNow).await;
    let api = &setup.api;
    let trapped = trapped_write(api, Op::UpgradeNow);
    let before = stripe_writes(api, &trapped);
    api.standin.set_webhook(None, WEBHOOK_SECRET.into());
    let (faulty, faults) = api.with_refusable_transactions();
    faults.refuse(1);
    let (path, key, body) = &setup.request;
    let reply = faulty.post_json(path, key, body).await;
    assert_envelope(&reply, 409, "change_in_progress");
    assert_eq!(stripe_writes(api, &trapped), before, "nothing was sent to Stripe");

    assert_truthful_retry(Op::UpgradeNow, &api.post_json(path, key, body).await);
    converged(&setup, Op::UpgradeNow).await;
    assert_eq!(stripe_writes(api, &trapped), before + 1);
}
