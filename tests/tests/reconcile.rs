//! The reconciler against DynamoDB Local and the Stripe stand-in: webhooks Stripe never
//! delivered are caught up from `GET /v1/events` through the webhook's own sync, exactly once,
//! and an org whose stored state drifted from Stripe is reported.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use billing_shared::billing::reconcile::{ReconcileReport, run};
use billing_shared::domain::org::{Org, SubscriptionStatus};
use billing_shared::now;
use billing_tests::json;
use billing_tests::logs::CapturedLogs;
use billing_tests::stripe::StripeTestApi;

type Item = HashMap<String, AttributeValue>;

async fn paid_checkout(api: &StripeTestApi, path: &str, token: &str, body: &str) {
    let reply = api.post_json(path, token, body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    api.standin.pay_checkout(reply.body["session_id"].as_str().unwrap()).await.unwrap();
}

async fn org(api: &StripeTestApi, org_id: &str) -> Org {
    api.app.store.get_org(org_id).await.unwrap().unwrap()
}

async fn reconcile(api: &StripeTestApi, org: Option<&str>) -> ReconcileReport {
    run(&api.app, org, now()).await.expect("a reconciler run")
}

/// Every item but the reconciler's cursor.
fn without_cursor(items: Vec<Item>) -> Vec<Item> {
    items.into_iter().filter(|i| i.get("PK").and_then(|v| v.as_s().ok()).is_none_or(|pk| pk != "RECONCILER")).collect()
}

/// Stripe requests that change something.
fn stripe_writes(api: &StripeTestApi) -> usize {
    api.standin.requests().iter().filter(|r| r.method != "GET").count()
}

#[tokio::test]
async fn one_run_catches_up_on_lost_webhooks_and_a_second_changes_nothing() {
    // `acme` subscribes while webhooks still arrive; then every delivery is lost.
    let (api, acme, _) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let delivered = api.standin.deliveries().len();
    api.standin.drop_webhooks(true);

    let globex = api.org_with_key("globex").await;
    paid_checkout(&api, "/billing/checkout", &globex, r#"{"plan":"pro","interval":"month"}"#).await;
    let upgrade = api.post_json("/billing/upgrade", &acme, r#"{"plan":"scale","quantity":2}"#).await;
    assert_eq!(upgrade.body["status"], "switched", "{}", upgrade.body);
    let initech = api.org_with_key("initech").await;
    paid_checkout(&api, "/billing/credits/checkout", &initech, r#"{"quantity":3}"#).await;
    api.standin.webhooks_settled().await;
    assert_eq!(api.standin.deliveries().len(), delivered, "no webhook arrived");
    assert_eq!(org(&api, "globex").await.status, SubscriptionStatus::None, "the paid checkout is not known yet");
    assert_eq!(org(&api, "initech").await.credits, 0, "the paid credits are not granted yet");

    let first = reconcile(&api, None).await;
    assert!(first.events_applied > 0 && first.events_duplicate > 0, "{first:?}");
    assert_eq!(first.events_seen, api.standin.events().len(), "{first:?}");
    assert!(first.drift.is_empty(), "{first:?}");
    assert_eq!(first.cursor, api.standin.events().iter().filter_map(|e| e["created"].as_i64()).max());
    let globex_org = org(&api, "globex").await;
    assert_eq!((globex_org.plan.as_str(), globex_org.status, globex_org.quantity), ("pro", SubscriptionStatus::Active, 1));
    assert!(globex_org.stripe_subscription_id.is_some());
    let acme_org = org(&api, "acme").await;
    assert_eq!((acme_org.plan.as_str(), acme_org.status, acme_org.quantity), ("scale", SubscriptionStatus::Active, 2));
    assert_eq!(org(&api, "initech").await.credits, 300);
    assert_eq!(api.items_with_pk_prefix("LEDGER#initech").await.len(), 1, "credits granted once");
    assert_eq!(api.get("/billing", Some(&globex)).await.body["plan"], "pro");
    assert_eq!(first.orgs_checked, 2, "globex and acme by their subscription events; initech has no subscription: {first:?}");

    let items = without_cursor(api.items().await);
    let writes = stripe_writes(&api);
    let second = reconcile(&api, None).await;
    assert_eq!((second.events_applied, second.events_seen), (0, first.events_seen), "{second:?}");
    assert_eq!(second.events_duplicate, first.events_applied + first.events_duplicate, "{second:?}");
    assert_eq!((second.orgs_checked, second.cursor), (0, first.cursor), "{second:?}");
    assert_eq!(without_cursor(api.items().await), items, "the second run changed the table");
    assert_eq!(stripe_writes(&api), writes, "the second run wrote to Stripe");
    assert_eq!(second.stripe_calls, 1, "one page of events: {second:?}");
}

#[tokio::test]
async fn drift_of_an_org_is_reported_and_logged_not_repaired() {
    let (api, _, _) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    api.edit_org("acme", |org| {
        org.plan = "scale".into();
        org.quantity = 4;
    })
    .await;
    let logs = CapturedLogs::default();
    let subscriber = logs.subscriber();
    let report = {
        let _guard = tracing::subscriber::set_default(subscriber);
        reconcile(&api, Some("acme")).await
    };

    let drift: Vec<(&str, &str, &str, &str)> =
        report.drift.iter().map(|d| (d.org_id.as_str(), d.field, d.stored.as_str(), d.stripe.as_str())).collect();
    assert_eq!(drift, [("acme", "plan", "scale", "pro"), ("acme", "quantity", "4", "1")]);
    assert_eq!(report.orgs_checked, 1);
    assert_eq!(org(&api, "acme").await.plan, "scale", "drift is reported, not repaired");
    let text = logs.text();
    let lines: Vec<serde_json::Value> =
        text.lines().filter(|l| l.contains("org drifted from Stripe")).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "one line per drifting org: {text}");
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(
        lines[0]["fields"],
        json!({"message": "org drifted from Stripe", "org_id": "acme", "field": "plan,quantity", "stored": "scale,4", "stripe": "pro,1"})
    );
    let summary = text.lines().find(|l| l.contains("reconcile run done")).unwrap_or_else(|| panic!("no report line in {text}"));
    assert!(summary.contains("\"stripe_calls\":") && summary.contains("\"events_applied\":0"), "{summary}");

    let unknown = run(&api.app, Some("nobody"), now()).await.unwrap_err();
    assert_eq!(unknown.kind, billing_shared::ErrorKind::NotFound);
}
