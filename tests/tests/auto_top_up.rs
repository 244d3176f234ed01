//! Automatic top-up: a spend that takes the balance under the org's level sets off one purchase
//! with the card on file, run from the table's stream (as its function is in AWS), inside the
//! named AGENT key's mandate, at most `max_per_month` times a month, once per crossing however
//! often the stream delivers the spend; and the setting itself, refused when it is wrong.

use billing_infra::outbox::StreamPump;
use billing_shared::billing::auto_top_up::on_spends;
use billing_shared::billing::webhook_sync::apply;
use billing_shared::config::aws_sdk_config;
use billing_shared::domain::events::Effect;
use billing_shared::domain::principal::PrincipalKind;
use billing_shared::now;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{Reply, TestApi, assert_envelope, json, require_env};
use serde_json::Value;

const DAY: i64 = 86_400;

/// An org `acme` with a customer whose default card is `card`, `credits` credits, an AGENT key
/// with a mandate of `limits`: (human token, agent key id, agent token).
async fn org(api: &StripeTestApi, card: &str, credits: u64, limits: Value) -> (String, String, String) {
    let human = api.org_with_key("acme").await;
    let (agent_key, agent) = api.issue_key("acme", "assistant", PrincipalKind::Agent).await;
    assert_eq!(api.post_json("/billing/credits/checkout", &human, r#"{"quantity":1}"#).await.status, 200, "a customer is made");
    api.set_card("acme", card).await;
    let effect = Effect::GrantCredits { customer_id: String::new(), payment_id: "cs_test_auto".into(), credits, bought_by: None };
    apply(&api.app, "acme", &effect, None, now()).await.expect("grant credits");
    let body = json!({ "agent_key_id": agent_key, "limits": limits, "expires_at": (now() + 30 * DAY).to_string() }).to_string();
    let granted = api.post_json("/billing/mandates", &human, &body).await;
    assert_eq!(granted.status, 201, "{}", granted.body);
    (human, agent_key, agent)
}

async fn set_auto_top_up(api: &TestApi, token: &str, setting: Value) -> Reply {
    api.patch_json("/billing/settings", token, &json!({ "auto_top_up": setting }).to_string()).await
}

fn setting(agent_key: &str, below: u64, max_per_month: u32) -> Value {
    json!({ "below": below, "bundles": 1, "max_per_month": max_per_month, "agent_key_id": agent_key })
}

/// The automatic top-up's own reader of the table's stream, from its start.
async fn stream(api: &TestApi) -> StreamPump {
    let dynamodb = aws_sdk_config().await.into_builder().endpoint_url(require_env("AWS_ENDPOINT_URL_DYNAMODB")).build();
    StreamPump::new(&dynamodb, api.app.store.table()).await.expect("read the table's stream")
}

/// Runs the automatic top-up's code on what the stream holds, as Lambda would, then lets the
/// stand-in's webhooks land.
async fn run(api: &StripeTestApi, pump: &mut StreamPump) {
    pump.deliver(|batch| on_spends(&api.app, batch, now())).await.expect("deliver the stream");
    api.standin.webhooks_settled().await;
}

async fn spend(api: &TestApi, token: &str, amount: u64) -> Reply {
    let reply = api.post_json("/billing/credits/spend", token, &json!({ "amount": amount }).to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
}

fn card_payments(api: &StripeTestApi) -> Vec<Value> {
    api.standin.payment_intents().into_iter().filter(|pi| pi["metadata"]["payment"] == "card_on_file").collect()
}

async fn balance(api: &TestApi, token: &str) -> i64 {
    api.get("/billing/credits", Some(token)).await.body["balance"].as_i64().expect("a balance")
}

async fn settings(api: &TestApi, token: &str) -> Value {
    let reply = api.get("/billing/settings", Some(token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn a_spend_under_the_level_buys_once_inside_the_mandate_and_a_delivery_again_buys_nothing() {
    let api = StripeTestApi::with_webhooks().await;
    let (human, agent_key, agent) = org(&api, "pm_card_visa", 150, json!({ "credit_bundles_per_month": 2 })).await;
    let per_bundle = i64::try_from(api.app.config.catalog.credits.credits_per_bundle).unwrap();
    assert_eq!(set_auto_top_up(&api, &human, setting(&agent_key, 100, 5)).await.status, 200);
    let mut pump = stream(&api).await;

    // Still at or over the level: nothing.
    spend(&api, &agent, 50).await;
    run(&api, &mut pump).await;
    assert!(card_payments(&api).is_empty());

    // Under it: the spend answers at once, with the balance it left; the top-up follows.
    let crossing = spend(&api, &agent, 10).await;
    assert_eq!(crossing.body["balance"], 90, "a spend never waits for a top-up");
    run(&api, &mut pump).await;
    let paid = card_payments(&api);
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0]["amount"].as_u64(), Some(api.app.config.catalog.credits.unit_amount));
    assert_eq!(paid[0]["metadata"]["key_id"], agent_key.as_str());
    assert_eq!(balance(&api, &human).await, 90 + per_bundle, "granted once");
    assert_eq!(settings(&api, &human).await["auto_top_ups_this_month"], 1);

    // The record names the agent, its mandate, its human and the spend that set it off.
    let activity = api.get("/billing/activity", Some(&human)).await.body;
    let records = activity["data"].as_array().unwrap();
    let spent = records.iter().find(|r| r["action"] == "billing.credits_spent" && r["params"]["balance"] == 90).expect("the spend");
    let granted: Vec<&Value> =
        records.iter().filter(|r| r["action"] == "billing.credits_granted" && r["stripe"]["payment_intent_id"].is_string()).collect();
    assert_eq!(granted.len(), 1, "{activity}");
    assert_eq!((granted[0]["actor"]["kind"].as_str(), granted[0]["actor"]["key_id"].as_str()), (Some("AGENT"), Some(agent_key.as_str())));
    assert_eq!(granted[0]["params"]["auto_top_up_of"], spent["activity_id"]);
    let mandate = &api.get("/billing/mandates", Some(&agent)).await.body["data"][0];
    assert_eq!(granted[0]["consent"]["mandate_id"], mandate["mandate_id"], "{}", granted[0]);
    assert_eq!(granted[0]["consent"]["approved_by"], mandate["granted_by"]);
    // The agent sees it in its own history.
    let own = api.get("/billing/activity", Some(&agent)).await.body;
    assert!(own["data"].as_array().unwrap().iter().any(|r| r["action"] == "billing.credits_granted"), "{own}");

    // The stream delivers every record again (a new reader from its start): nothing more.
    let mut again = stream(&api).await;
    run(&api, &mut again).await;
    assert_eq!(card_payments(&api).len(), 1, "once per crossing");
    assert_eq!(balance(&api, &human).await, 90 + per_bundle);
    assert_eq!(settings(&api, &human).await["auto_top_ups_this_month"], 1);

    // Back over the level and under it again: the second (and last) bundle of the mandate.
    let over = 90 + per_bundle - 99;
    spend(&api, &agent, u64::try_from(over).unwrap()).await;
    run(&api, &mut pump).await;
    assert_eq!(card_payments(&api).len(), 2);
    // A third crossing is outside the mandate: no charge, and none of the month's top-ups used.
    spend(&api, &agent, u64::try_from(per_bundle).unwrap()).await;
    run(&api, &mut pump).await;
    assert_eq!(card_payments(&api).len(), 2, "never outside the mandate");
    assert_eq!(settings(&api, &human).await["auto_top_ups_this_month"], 2);
}

#[tokio::test]
async fn never_more_than_the_month_s_top_ups() {
    let api = StripeTestApi::with_webhooks().await;
    let (human, agent_key, agent) = org(&api, "pm_card_visa", 150, json!({ "credit_bundles_per_month": 10 })).await;
    let per_bundle = api.app.config.catalog.credits.credits_per_bundle;
    assert_eq!(set_auto_top_up(&api, &human, setting(&agent_key, 100, 2)).await.status, 200);
    let mut pump = stream(&api).await;
    // Three crossings: 150 -> 99, then each top-up's bundle spent back under the level.
    spend(&api, &agent, 51).await;
    run(&api, &mut pump).await;
    for _ in 0..2 {
        spend(&api, &agent, per_bundle).await;
        run(&api, &mut pump).await;
    }
    assert_eq!(card_payments(&api).len(), 2);
    assert_eq!(settings(&api, &human).await["auto_top_ups_this_month"], 2);
    assert_eq!(balance(&api, &human).await, 99);
}

#[tokio::test]
async fn a_declined_card_grants_nothing_and_gives_the_mandate_its_draw_back() {
    let api = StripeTestApi::with_webhooks().await;
    let (human, agent_key, agent) = org(&api, "pm_card_chargeDeclined", 150, json!({ "credit_bundles_per_month": 1 })).await;
    assert_eq!(set_auto_top_up(&api, &human, setting(&agent_key, 100, 3)).await.status, 200);
    let mut pump = stream(&api).await;
    spend(&api, &agent, 60).await;
    run(&api, &mut pump).await;
    assert_eq!(balance(&api, &human).await, 90, "nothing granted");
    let mandate = &api.get("/billing/mandates", Some(&agent)).await.body["data"][0];
    assert_eq!(mandate["used"]["credit_bundles_this_month"], 0, "{mandate}");
    assert_eq!(settings(&api, &human).await["auto_top_ups_this_month"], 1, "an attempt counts");
}

#[tokio::test]
async fn the_setting_is_checked_whole_and_only_a_human_changes_it() {
    let api = StripeTestApi::with_webhooks().await;
    let (human, agent_key, agent) = org(&api, "pm_card_visa", 150, json!({ "credit_bundles_per_month": 2 })).await;
    let (human_key, _) = api.issue_key("acme", "bob", PrincipalKind::Human).await;
    let other = api.org_with_key("globex").await;
    let (outsider_key, _) = api.issue_key("globex", "bot", PrincipalKind::Agent).await;
    let max_bundles = api.app.config.catalog.credits.max_bundles;

    assert_envelope(&set_auto_top_up(&api, &agent, setting(&agent_key, 100, 3)).await, 403, "forbidden");
    for (bad, field) in [
        (setting(&human_key, 100, 3), "auto_top_up.agent_key_id"),
        (setting(&outsider_key, 100, 3), "auto_top_up.agent_key_id"),
        (setting(&agent_key, 0, 3), "auto_top_up.below"),
        (setting(&agent_key, 100, 0), "auto_top_up.max_per_month"),
        (json!({ "below": 100, "bundles": max_bundles + 1, "max_per_month": 3, "agent_key_id": agent_key }), "auto_top_up.bundles"),
    ] {
        let refused = set_auto_top_up(&api, &human, bad.clone()).await;
        assert_envelope(&refused, 400, "validation_failed");
        assert_eq!(refused.body["details"]["fields"][0]["field"], field, "{bad}: {}", refused.body);
    }
    let partial = set_auto_top_up(&api, &human, json!({ "below": 100 })).await;
    assert_eq!(partial.status, 400, "{}", partial.body);
    assert_eq!(settings(&api, &human).await["auto_top_up"], Value::Null, "a refused change sets nothing");
    // Another org's human cannot name this org's key either.
    assert_eq!(set_auto_top_up(&api, &other, setting(&agent_key, 100, 3)).await.status, 400);

    let on = set_auto_top_up(&api, &human, setting(&agent_key, 100, 3)).await;
    assert_eq!((on.status, &on.body["auto_top_up"]), (200, &setting(&agent_key, 100, 3)), "{}", on.body);
    assert_eq!(settings(&api, &agent).await["auto_top_up"], setting(&agent_key, 100, 3), "any key of the org reads it");
    // Changing the brake leaves it as it is; `null` turns it off.
    let brake = api.patch_json("/billing/settings", &human, r#"{"agent_brake":{"pause_minutes":2}}"#).await;
    assert_eq!(brake.body["auto_top_up"], setting(&agent_key, 100, 3));
    assert_eq!(set_auto_top_up(&api, &human, Value::Null).await.body["auto_top_up"], Value::Null);

    // Off: a crossing buys nothing.
    let mut pump = stream(&api).await;
    spend(&api, &agent, 100).await;
    run(&api, &mut pump).await;
    assert!(card_payments(&api).is_empty());
}
