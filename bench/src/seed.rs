//! The data every measured request finds, made through the project's own code so items and
//! Stripe objects look exactly as in production: the table from template.yaml; one org with a
//! HUMAN API key; its open subscription Checkout (which gives it a Stripe customer); and a paid
//! credits Checkout whose `checkout.session.completed` event, signed, is the webhook's request.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use billing_infra::template::Template;
use billing_shared::billing::checkout::subscription_checkout;
use billing_shared::billing::credits_checkout::credits_checkout;
use billing_shared::billing::webhook_sync::apply;
use billing_shared::config::Config;
use billing_shared::domain::activity::{Activity, Event};
use billing_shared::domain::api_key as auth;
use billing_shared::domain::approval::{APPROVAL_TTL_SECS, ApprovalState, POLL_INTERVAL_SECS};
use billing_shared::domain::catalog::Interval;
use billing_shared::domain::change::{self, Change, ChangeKind};
use billing_shared::domain::events::Effect;
use billing_shared::domain::ids;
use billing_shared::domain::mandate::{Mandate, MandateLimits};
use billing_shared::domain::org::Org;
use billing_shared::domain::principal::Actor;
use billing_shared::domain::principal::{Principal, PrincipalKind};
use billing_shared::store::{ACTIVITY_PREFIX, ApprovalRecord, PK, SK};
use billing_shared::{App, now};
use stripe_standin::Standin;
use stripe_webhook::Webhook;

use crate::stripe::{SECRET_KEY, WEBHOOK_SECRET};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

const TABLE: &str = "billing-bench";
const ORG_ID: &str = "bench";
const EVENT_BUS: &str = "billing-bench-events";
const PRINCIPAL_ID: &str = "bench-owner";
/// More than the spends of a run (15 cold starts and 1000 warm requests, by default).
const CREDITS_SEEDED: u64 = 1_000_000;
/// The AGENT key's principal.
pub const AGENT_PRINCIPAL_ID: &str = "bench-agent";
/// The bodies of the org's Checkouts; the requests of `POST /billing/checkout` and
/// `POST /billing/credits/checkout` repeat them.
pub const SUBSCRIPTION_CHECKOUT: &str = r#"{"plan":"pro","interval":"month"}"#;
pub const CREDITS_CHECKOUT: &str = r#"{"quantity":1}"#;
/// DynamoDB Local is a JVM: this many reads before measuring let its JIT settle.
const WARM_UP_READS: usize = 500;
/// How long the seeded mandates run.
const MANDATE_DAYS: i64 = 30;
/// The webhook event is signed this far ahead, so its one signature stays within Stripe's
/// ±300 s tolerance from the start of the run until 9 minutes later.
const SIGNATURE_AHEAD_SECS: i64 = 240;

pub struct Fixture {
    pub table: String,
    pub principal: Principal,
    /// The bearer token of the key (the authorizer resolves it with one GetItem).
    pub token: String,
    /// The org item's key (as `shared/src/store.rs` lays it out): the floor reads this item,
    /// the same one `GET /billing` reads.
    pub org_item: (String, String),
    /// The org's open subscription Checkout Session.
    pub checkout_session_id: String,
    /// A `checkout.session.completed` delivery: the payload and its `Stripe-Signature`.
    pub webhook: (String, String),
    /// A pending web approval of the org (what a poll reads) and a denied one (what a late
    /// approve or deny is told).
    pub pending_approval: String,
    pub denied_approval: String,
    /// An AGENT key of the org (not paused: what a resume of it does is the idempotent path),
    /// holding an active mandate.
    pub agent_key_id: String,
    /// A revoked mandate of another AGENT key of the org.
    pub revoked_mandate: String,
    /// The org's activity records as the table holds them (DynamoDB JSON): what the table's
    /// stream hands the events publisher.
    pub activity_items: Vec<serde_json::Value>,
    /// The event bus made in moto for the publisher, when `AWS_ENDPOINT_URL_EVENTBRIDGE` names one.
    pub event_bus: Option<String>,
}

/// An agent's web approval of the org, stored as the upgrade use case stores one.
fn approval(id: &str, state: ApprovalState) -> ApprovalRecord {
    let pro = change::PlanConfig { plan: "pro".into(), interval: Some(Interval::Month), quantity: 1 };
    let change = Change {
        kind: ChangeKind::SwitchNow,
        to: change::PlanConfig { plan: "scale".into(), quantity: 2, ..pro.clone() },
        from: pro,
        amount_due_now: 6142,
        recurring_amount: 9800,
        effective_at: None,
        proration_date: 0,
        trial_ends_at: None,
        tax_due_now: 0,
        discount_due_now: 0,
        promotion_code: None,
    };
    ApprovalRecord {
        id_hash: ids::hash(id),
        org_id: ORG_ID.to_string(),
        principal_id: AGENT_PRINCIPAL_ID.to_string(),
        key_id: None,
        action: "upgrade".to_string(),
        params: "bench".to_string(),
        generation: 0,
        change: Some(change),
        mandate: None,
        message: "Switch Benchmark Org from Pro (monthly) to Scale x2 servers (monthly) now.".to_string(),
        binding_code: "ACD-EFG".to_string(),
        created_at: now(),
        valid_until: now() + APPROVAL_TTL_SECS,
        state,
        interval: POLL_INTERVAL_SECS,
        next_poll_at: now(),
        decided_by: None,
        result: None,
    }
}

/// The settings the functions run with: template.yaml's Globals as a deployment sets them, and
/// the Stripe key and webhook secret as the local run passes them (AWS: from Secrets Manager).
pub fn project_env(table: &str, stripe_base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BILLING_TABLE", table.to_string()),
        ("RUST_LOG", "info".to_string()),
        ("ALLOWED_REDIRECT_ORIGINS", "https://app.example.com".to_string()),
        ("DEFAULT_SUCCESS_URL", "https://app.example.com/billing?checkout=success".to_string()),
        ("DEFAULT_CANCEL_URL", "https://app.example.com/billing?checkout=cancel".to_string()),
        ("DEFAULT_RETURN_URL", "https://app.example.com/billing".to_string()),
        ("STRIPE_API_BASE", stripe_base.to_string()),
        ("STRIPE_SECRET_KEY", SECRET_KEY.to_string()),
        ("STRIPE_WEBHOOK_SECRETS", WEBHOOK_SECRET.to_string()),
    ]
}

/// Seeds DynamoDB Local (which `sdk` points at) and the stand-in.
pub async fn seed(sdk: &SdkConfig, standin: &Standin) -> Result<Fixture, Error> {
    let env = project_env(TABLE, &standin.base_url());
    let config = Config::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))?;
    let app = App::new(config, sdk.clone()).with_stripe().await;
    app.stripe()?;
    Template::built_in().create_table(app.store.client(), TABLE).await?;
    app.store.create_org(&Org::new(ORG_ID, "Benchmark Org", now())).await?;
    let key = auth::issue(ORG_ID, PRINCIPAL_ID, PrincipalKind::Human, now())?;
    app.store.put_api_key(&key.record, &auth::key_activity(&key.record, false, now())).await?;
    let principal = Principal {
        org_id: ORG_ID.to_string(),
        principal_id: PRINCIPAL_ID.to_string(),
        key_id: key.record.key_id.clone(),
        kind: PrincipalKind::Human,
    };

    let agent_key = auth::issue(ORG_ID, AGENT_PRINCIPAL_ID, PrincipalKind::Agent, now())?;
    app.store.put_api_key(&agent_key.record, &auth::key_activity(&agent_key.record, false, now())).await?;
    // The agent holds an active mandate (a second grant is refused after its full check); a
    // second agent's was revoked (revoking it again answers it as it is).
    let retired_key = auth::issue(ORG_ID, "bench-retired-agent", PrincipalKind::Agent, now())?;
    app.store.put_api_key(&retired_key.record, &auth::key_activity(&retired_key.record, false, now())).await?;
    let revoked_mandate = format!("md_{:032x}", 2);
    for (id, key_id, revoked_at) in
        [(format!("md_{:032x}", 1), &agent_key.record.key_id, None), (revoked_mandate.clone(), &retired_key.record.key_id, Some(now()))]
    {
        let mandate = Mandate {
            mandate_id: id.clone(),
            org_id: ORG_ID.to_string(),
            agent_key_id: key_id.clone(),
            limits: MandateLimits { max_plan: Some("pro".into()), credits_spend_per_day: Some(CREDITS_SEEDED), ..Default::default() },
            valid_until: now() + MANDATE_DAYS * 86_400,
            granted_by: key.record.key_id.clone(),
            created_at: now(),
            revoked_at,
            revoked_by: revoked_at.map(|_| key.record.key_id.clone()),
            used: Default::default(),
        };
        let event = Event::MandateGranted {
            mandate_id: id,
            agent_key_id: key_id.clone(),
            limits: mandate.limits.clone(),
            expires_at: mandate.valid_until,
        };
        app.store.put_mandate(&mandate, &Activity::new(ORG_ID, now(), Actor::System, event, None), now()).await?;
    }

    let checkout = subscription_checkout(&app, &principal, &serde_json::from_str(SUBSCRIPTION_CHECKOUT)?, now()).await?;
    // Credits for every spend the measurement makes (granted as a paid credits Checkout does).
    let grant =
        Effect::GrantCredits { customer_id: String::new(), payment_id: "cs_bench_seed".into(), credits: CREDITS_SEEDED, bought_by: None };
    apply(&app, ORG_ID, &grant, None, now()).await?;
    let credits = credits_checkout(&app, &principal, &serde_json::from_str(CREDITS_CHECKOUT)?, now()).await?;
    standin.pay_checkout(&credits.session_id).await?;
    let event = standin
        .events()
        .into_iter()
        .find(|e| e["type"] == "checkout.session.completed" && e["data"]["object"]["id"] == credits.session_id.as_str())
        .ok_or("the stand-in recorded no checkout.session.completed for the credits Checkout")?
        .to_string();
    let signature = Webhook::generate_test_header(&event, WEBHOOK_SECRET, Some(now() + SIGNATURE_AHEAD_SECS));

    // Approval ids have the shape the approval page checks: `ap_` and 32 hex digits.
    let (pending_approval, denied_approval) = (format!("ap_{:032x}", 1), format!("ap_{:032x}", 2));
    for (id, state) in [(&pending_approval, ApprovalState::Pending), (&denied_approval, ApprovalState::Denied)] {
        let record = approval(id, state);
        let to = record.change.as_ref().map_or_else(change::PlanConfig::free, |change| change.to.clone());
        let event = Event::ApprovalRequested { action: record.action.clone(), to, expires_at: record.valid_until };
        app.store.put_approval(&record, &Activity::new(ORG_ID, now(), Actor::System, event, None)).await?;
    }

    let org_item = (format!("ORG#{ORG_ID}"), "ORG".to_string());
    for _ in 0..WARM_UP_READS {
        let out = app
            .store
            .client()
            .get_item()
            .table_name(TABLE)
            .key(PK, AttributeValue::S(org_item.0.clone()))
            .key(SK, AttributeValue::S(org_item.1.clone()))
            .send()
            .await?;
        if out.item.is_none() {
            return Err("the seeded org item is not where the floor will look for it".into());
        }
    }
    let activities = app
        .store
        .client()
        .query()
        .table_name(TABLE)
        .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(org_item.0.clone()))
        .expression_attribute_values(":prefix", AttributeValue::S(ACTIVITY_PREFIX.to_string()))
        .send()
        .await?;
    let activity_items = activities
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|item| serde_json::to_value(serde_dynamo::Item::from(item)))
        .collect::<Result<_, _>>()?;
    let event_bus = match std::env::var("AWS_ENDPOINT_URL_EVENTBRIDGE") {
        Ok(_) => {
            aws_sdk_eventbridge::Client::new(sdk).create_event_bus().name(EVENT_BUS).send().await?;
            Some(EVENT_BUS.to_string())
        }
        Err(_) => None,
    };
    Ok(Fixture {
        table: TABLE.to_string(),
        principal,
        token: key.token,
        org_item,
        checkout_session_id: checkout.link.session_id,
        webhook: (event, signature),
        agent_key_id: agent_key.record.key_id,
        revoked_mandate,
        pending_approval,
        denied_approval,
        activity_items,
        event_bus,
    })
}
