//! The document's examples, made by the code that makes real answers wherever it can (the
//! summary, limits, ledger entries, signal reports, error envelopes), from one example org at
//! one fixed instant so the document is the same on every build.

use lambda_http::{Body, Request};
use serde::Serialize;
use serde_json::{Value, json};

use crate::billing::activity::ActivityPageView;
use crate::billing::checkout::{CheckoutSession, checkout_in_progress, subscription_exists};
use crate::billing::checkout_sync::CheckoutSync;
use crate::billing::credits::{CreditsPage, Spent, insufficient};
use crate::billing::credits_checkout::CreditsCheckoutSession;
use crate::billing::idempotency::{Answer, fingerprint};
use crate::billing::limit_signals::{IncreaseRecorded, RecordedStatus, SignalReport, require_admin};
use crate::billing::limits::{LimitsView, parse_resource};
use crate::billing::portal::PortalSession;
use crate::billing::top_up::{TopUp, TopUpStatus};
use crate::billing::usage::{Released, Reserved};
use crate::billing::webhook_sync::{Outcome, WebhookReceipt};
use crate::domain::activity::{Activity, Consent, Event, PlanChangeKind};
use crate::domain::catalog::{Catalog, Interval, Resource};
use crate::domain::change::PlanConfig;
use crate::domain::entitlements::{LimitStatus, PlanLimitReached, effective_plan, limit};
use crate::domain::ledger::LedgerEntry;
use crate::domain::org::{Card, Org, PendingCheckout, SubscriptionStatus};
use crate::domain::principal::Actor;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::signals::{Signal, aggregate};
use crate::domain::summary::{BillingSummary, billing_summary};
use crate::error::{ApiError, ErrorKind};
use crate::http::{MAX_BODY_BYTES, json_body, verify_stripe_signature};
use crate::store::IdempotencyRecord;
use crate::stripe::{InvoicePage, InvoiceView};

/// The instant the examples are taken at: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600;
const DAY: i64 = 86_400;
const GRACE_SECS: i64 = 7 * DAY;
pub const REQUEST_ID: &str = "Nc4ZmgbTIAMEbqw=";
pub const SESSION_ID: &str = "cs_test_a1B2c3D4e5F6g7H8";
const PAYMENT_INTENT_ID: &str = "pi_3Qd4Xe5Fg6Hj7Kl8Mn9Pq0Rs";
const CHECKOUT_URL: &str = "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4e5F6g7H8";

pub fn value<T: Serialize>(body: T) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

pub fn catalog() -> Catalog {
    Catalog::built_in().expect("the built-in catalog is valid")
}

/// Acme, on Pro monthly since December, with a card, credits and some usage.
pub fn org() -> Org {
    let mut org = Org::new("org_acme", "Acme", NOW - 40 * DAY);
    org.plan = "pro".into();
    org.status = SubscriptionStatus::Active;
    org.interval = Some(Interval::Month);
    org.current_period_end = Some(NOW + 14 * DAY);
    org.stripe_customer_id = Some("cus_Q1w2E3r4T5y6".into());
    org.stripe_subscription_id = Some("sub_1Qa2Ws3Ed4Rf".into());
    org.card = Some(Card { brand: "visa".into(), last4: "4242".into(), exp_month: 12, exp_year: 2030 });
    org.credits = 250;
    org.usage =
        [(Resource::Agents, 4), (Resource::Members, 7), (Resource::Workspaces, 2), (Resource::Rows, 48_210), (Resource::ApiCalls, 12_840)]
            .into_iter()
            .collect();
    org.usage_period_end = org.current_period_end;
    org
}

pub fn summary() -> BillingSummary {
    billing_summary(&org(), &catalog(), NOW, GRACE_SECS)
}

/// The answer of a promotion code applied: the billing with its discount.
pub fn discount_applied() -> crate::billing::plan_change::answer::Applied {
    let mut org = org();
    org.discount = Some(crate::domain::promotion::Discount {
        promotion_code: Some("LAUNCH20".into()),
        percent_off: Some(20.0),
        amount_off: None,
        currency: None,
        duration: crate::domain::promotion::Duration::Forever,
        ends_at: None,
    });
    crate::billing::plan_change::answer::Applied {
        status: crate::domain::change::AppliedStatus::DiscountApplied,
        effective_at: None,
        billing: Box::new(billing_summary(&org, &catalog(), NOW, GRACE_SECS)),
        mandate: None,
    }
}

/// The same org with nothing bought yet.
fn free_org() -> Org {
    let mut org = Org::new("org_acme", "Acme", NOW - DAY);
    org.usage.insert(Resource::Agents, 1);
    org
}

fn limit_status(org: &Org, resource: Resource) -> LimitStatus {
    let catalog = catalog();
    let plan = effective_plan(org, &catalog, NOW, GRACE_SECS);
    LimitStatus::new(org, &limit(org, plan, resource, NOW), NOW)
}

pub fn limits() -> LimitsView {
    let (org, catalog) = (org(), catalog());
    let plan = effective_plan(&org, &catalog, NOW, GRACE_SECS);
    LimitsView { plan: plan.id.clone(), limits: Resource::ALL.iter().map(|r| limit_status(&org, *r)).collect() }
}

pub fn resource_limit() -> LimitStatus {
    limit_status(&org(), Resource::Agents)
}

pub fn reserved() -> Reserved {
    let status = limit_status(&org(), Resource::Agents);
    Reserved { resource: status.resource, active: status.active, cap: status.cap, remaining: status.remaining, reserved: 1 }
}

pub fn released() -> Released {
    let status = limit_status(&org(), Resource::Agents);
    Released { resource: status.resource, active: status.active, cap: status.cap, remaining: status.remaining, released: 1 }
}

fn agent() -> Principal {
    Principal { org_id: "org_acme".into(), principal_id: "assistant".into(), key_id: "key_assistant".into(), kind: PrincipalKind::Agent }
}

fn spend_entry() -> LedgerEntry {
    LedgerEntry::spend(42, 50, 250, &agent(), Some("report generation".into()), NOW - 3600)
}

pub fn spent() -> Spent {
    Spent { balance: 250, spent: 50, entry: spend_entry(), mandate: None }
}

pub fn credits_page() -> CreditsPage {
    let grant = LedgerEntry::grant(37, 300, 300, SESSION_ID, NOW - 2 * DAY);
    CreditsPage { balance: 250, data: vec![spend_entry(), grant], has_more: false }
}

/// A page of an org's history: the agent's spend and the upgrade it made with its human's yes.
pub fn activity_page() -> ActivityPageView {
    let pro = PlanConfig { plan: "pro".into(), interval: Some(Interval::Month), quantity: 1 };
    let scale = PlanConfig { plan: "scale".into(), ..pro.clone() };
    let record = |id: &str, at: i64, event: Event, consent: Option<Consent>| {
        let mut activity = Activity::new("org_acme", at, Actor::of(&agent()), event, None).under(consent);
        (activity.id, activity.request_id) = (id.to_string(), Some(REQUEST_ID.to_string()));
        activity.view("usd")
    };
    let spent = Event::CreditsSpent { entry_id: "led_38".into(), amount: 50, balance: 250 };
    let upgraded = Event::PlanChanged { kind: PlanChangeKind::Upgrade, from: pro, to: scale, effective_at: None };
    let token =
        Consent::ConfirmToken { confirm_token_hash: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()) };
    ActivityPageView {
        data: vec![
            record("act_0648a1c2d3e4f5a6b7c8d9e0", NOW - 60, spent, None),
            record("act_0648a1c2d3e4f5a6b7c8d9df", NOW - 3_600, upgraded, Some(token)),
        ],
        has_more: true,
        next_cursor: Some(format!("act_0648a1c2d3e4f5a6b7c8d9df-{}", NOW - 3_600)),
    }
}

pub fn checkout() -> CheckoutSession {
    CheckoutSession { url: CHECKOUT_URL.into(), session_id: SESSION_ID.into(), trial_days: 0 }
}

pub fn credits_checkout() -> CreditsCheckoutSession {
    CreditsCheckoutSession { checkout_url: CHECKOUT_URL.into(), session_id: SESSION_ID.into() }
}

pub fn top_up() -> TopUp {
    TopUp {
        status: TopUpStatus::Paid,
        payment_intent_id: PAYMENT_INTENT_ID.into(),
        quantity: 2,
        credits_granted: 200,
        amount_charged: 2000,
        currency: "usd".into(),
        balance: 450,
        mandate: None,
    }
}

/// A top-up whose card was declined: the Checkout to pay with instead.
pub fn top_up_failed() -> ApiError {
    ApiError::new(
        ErrorKind::PaymentFailed,
        "The card on file was declined. Pay for the credits at `details.checkout_url` with another card.",
    )
    .with_details(json!({
        "reason": "card_declined",
        "checkout_url": CHECKOUT_URL,
        "session_id": SESSION_ID,
        "payment_intent_id": PAYMENT_INTENT_ID,
    }))
}

pub fn portal() -> PortalSession {
    PortalSession { url: "https://billing.stripe.com/p/session/test_YWNjdF8xTjJhM2I0".into() }
}

pub fn checkout_sync() -> CheckoutSync {
    CheckoutSync { session_id: SESSION_ID.into(), complete: true, paid: true, billing: summary() }
}

pub fn invoices() -> InvoicePage {
    let invoice = InvoiceView {
        id: "in_1Qb2Wc3Ed4Rf".into(),
        number: Some("ACME-0002".into()),
        status: Some("paid".into()),
        currency: "usd".into(),
        amount_due: 1672,
        amount_paid: 1672,
        subtotal: 1900,
        discount: 380,
        tax: 152,
        total: 1672,
        created: NOW - 16 * DAY,
        period_start: NOW - 16 * DAY,
        period_end: NOW + 14 * DAY,
        hosted_invoice_url: Some("https://invoice.stripe.com/i/acct_1N2a3b4/test_YWNjdF8x".into()),
        invoice_pdf: Some("https://pay.stripe.com/invoice/acct_1N2a3b4/test_YWNjdF8x/pdf".into()),
    };
    InvoicePage { data: vec![invoice], has_more: false }
}

pub fn webhook_receipt() -> WebhookReceipt {
    WebhookReceipt::new("evt_1Qc3Vd4Bf5Gh", &Outcome::Applied)
}

pub fn increase_recorded() -> IncreaseRecorded {
    IncreaseRecorded { status: RecordedStatus::Recorded, signal_id: "sig_4f1c2a9b0d3e5f6a7b8c".into(), count_for_kind: 3, stored: true }
}

pub fn signal_report() -> SignalReport {
    let signal = Signal {
        signal_id: "sig_4f1c2a9b0d3e5f6a7b8c".into(),
        org_id: "org_acme".into(),
        principal_id: "assistant".into(),
        principal_kind: PrincipalKind::Agent,
        kind: "rows".into(),
        desired_value: Some(2_000_000),
        reason: Some("nightly import of the CRM".into()),
        created_at: NOW - DAY,
        plan: "pro".into(),
        active: Some(980_000),
        cap: Some(1_000_000),
        repeats: 2,
        last_at: NOW - DAY + 30,
    };
    SignalReport { since: Some(NOW - 30 * DAY), kinds: aggregate(&[signal]) }
}

fn request(content_type: &str, body: String) -> Request {
    lambda_http::http::Request::builder().header("content-type", content_type).body(Body::Text(body)).expect("a request of constant parts")
}

fn body_error(content_type: &str, body: String) -> ApiError {
    json_body::<Value>(&request(content_type, body)).expect_err("a body json_body refuses")
}

/// A representative error of `kind`, made by the code that answers it where it can.
pub fn error(kind: ErrorKind) -> ApiError {
    let catalog = catalog();
    match kind {
        ErrorKind::ValidationFailed => ApiError::field("quantity", "must be 1 to 100 servers"),
        ErrorKind::MalformedJson => body_error("application/json", r#"{"plan": "pro""#.into()),
        ErrorKind::InvalidSignature => verify_stripe_signature(b"{}", None, &["whsec_example".into()], 0).expect_err("no signature"),
        ErrorKind::UnsupportedMediaType => body_error("text/plain", "plan=pro".into()),
        ErrorKind::PayloadTooLarge => body_error("application/json", " ".repeat(MAX_BODY_BYTES + 1)),
        ErrorKind::Unauthorized => ApiError::unauthorized(),
        ErrorKind::Forbidden => ApiError::forbidden("This deployment does not give agents Customer Portal links: ask a human of the org."),
        ErrorKind::NotFound => ApiError::not_found("The org of this key no longer exists."),
        ErrorKind::MethodNotAllowed => {
            ApiError::new(kind, "DELETE is not a method of /billing: use GET.").with_details(json!({ "allow": ["GET"] }))
        }
        ErrorKind::Conflict => ApiError::contended(),
        ErrorKind::SubscriptionExists => subscription_exists(&org()),
        ErrorKind::NotTrialing => crate::billing::plan_change::trial::not_trialing(&org()),
        ErrorKind::InvalidPromotionCode => ApiError::new(kind, "The promotion code `EXPIRED10` has expired; nothing was created.")
            .with_details(json!({ "promotion_code": "EXPIRED10", "reason": "expired" })),
        ErrorKind::CheckoutInProgress => checkout_in_progress(&PendingCheckout {
            session_id: SESSION_ID.into(),
            url: CHECKOUT_URL.into(),
            fingerprint: String::new(),
            expires_at: NOW + 1800,
            trial_days: 0,
        }),
        ErrorKind::NoStripeCustomer => ApiError::new(kind, "This org has no Stripe customer yet: start a checkout first."),
        ErrorKind::PaymentFailed => ApiError::new(kind, "The card was declined for the prorated amount; the plan was not changed.")
            .with_details(json!({ "invoice_id": "in_1Qd4Xe5Fg6Hj" })),
        ErrorKind::ChangeInProgress => ApiError::new(
            kind,
            "A plan change for this org is being confirmed with Stripe; call again after `Retry-After` seconds to see its result.",
        )
        .with_details(json!({ "retry_after": 5 })),
        ErrorKind::InvalidConfirmToken => {
            ApiError::new(kind, "This confirm token has expired: ask again without a token.").with_details(json!({ "reason": "expired" }))
        }
        ErrorKind::ApprovalNotPending => ApiError::new(kind, "This approval was denied; nothing was changed. The agent can ask again.")
            .with_details(json!({ "status": "denied" })),
        ErrorKind::SlowDown => {
            ApiError::new(kind, "Polling too fast: wait 10 s between polls from now on.").with_details(json!({ "interval": 10 }))
        }
        ErrorKind::AgentPaused => ApiError::agent_paused(NOW + 240, 240),
        ErrorKind::PlanLimitReached => {
            let org = free_org();
            let plan = effective_plan(&org, &catalog, NOW, GRACE_SECS);
            let details = PlanLimitReached::new(
                &org,
                &catalog,
                plan,
                &limit(&org, plan, Resource::Agents, NOW),
                1,
                crate::billing::usage::NEXT_CALLS,
            );
            ApiError::new(kind, details.message(&plan.name)).with_details(value(&details))
        }
        ErrorKind::InsufficientCredits => insufficient(250, 400),
        ErrorKind::MandateLimitReached => crate::billing::mandates::outside(crate::domain::mandate::Uncovered("credits_spend_per_day")),
        ErrorKind::MandateExists => crate::billing::mandates::mandate_exists(),
        ErrorKind::IdempotencyKeyReused => {
            let record = IdempotencyRecord::new(fingerprint(&["reserve", "agents", "1"]), String::new(), NOW);
            Answer::replay(&record, &fingerprint(&["reserve", "agents", "2"])).expect_err("another request under the key")
        }
        ErrorKind::StripeError => {
            ApiError::new(kind, "Stripe could not complete create_checkout_session; nothing was changed. Retry shortly.").with_details(
                json!({
                    "operation": "create_checkout_session",
                    "stripe_status": 500,
                    "stripe_error_type": "api_error",
                    "stripe_request_id": "req_8Kx2Lm4Np6Qr",
                }),
            )
        }
        ErrorKind::StorageUnavailable => ApiError::storage("get_org"),
        ErrorKind::ServiceUnavailable => ApiError::stripe_unavailable(),
        ErrorKind::Internal => ApiError::internal("A stored item could not be read (get_org)."),
    }
}

/// An AGENT key's id, as the admin CLI prints it.
pub const KEY_ID: &str = "3f9a0c2b7d1e4f5a";

pub fn settings() -> crate::billing::settings::Settings {
    let auto_top_up = crate::domain::auto_top_up::AutoTopUp { below: 100, bundles: 1, max_per_month: 3, agent_key_id: KEY_ID.into() };
    crate::billing::settings::Settings {
        agent_brake: crate::domain::brake::AgentBrake::default(),
        auto_top_up: Some(auto_top_up),
        auto_top_ups_this_month: 1,
    }
}

pub fn resumed() -> crate::billing::brake::Resumed {
    crate::billing::brake::Resumed { key_id: KEY_ID.into(), status: crate::billing::brake::ResumeStatus::Resumed }
}

/// Route-specific errors, where the generic one would mislead.
pub fn not_found_resource() -> ApiError {
    parse_resource("unicorns").expect_err("not a resource")
}

pub fn not_found_session() -> ApiError {
    ApiError::not_found(format!("No checkout session {SESSION_ID} for this org."))
}

pub fn forbidden_admin() -> ApiError {
    require_admin(&agent()).expect_err("an agent is not an admin")
}

pub const MANDATE_ID: &str = "md_5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b";

fn granted_mandate() -> crate::domain::mandate::Mandate {
    let mut used = std::collections::BTreeMap::new();
    used.insert(crate::domain::mandate::Counter::Charge.key(NOW), 1_500);
    crate::domain::mandate::Mandate {
        mandate_id: MANDATE_ID.into(),
        org_id: "acme".into(),
        agent_key_id: KEY_ID.into(),
        limits: crate::domain::mandate::MandateLimits {
            max_plan: Some("pro".into()),
            max_quantity: None,
            max_charge_per_month: Some(5_000),
            credit_bundles_per_month: Some(2),
            credits_spend_per_day: Some(500),
        },
        valid_until: NOW + 60 * DAY,
        granted_by: "7b2e9d4c1a0f3e6d".into(),
        created_at: NOW - DAY,
        revoked_at: None,
        revoked_by: None,
        used,
    }
}

pub fn mandate() -> crate::billing::mandates::MandateView {
    crate::billing::mandates::MandateView::of(&granted_mandate(), NOW)
}

pub fn revoked_mandate() -> crate::billing::mandates::MandateView {
    let mut mandate = granted_mandate();
    mandate.revoked_at = Some(NOW);
    mandate.revoked_by = mandate.granted_by.clone().into();
    crate::billing::mandates::MandateView::of(&mandate, NOW)
}

pub fn mandate_list() -> crate::billing::mandates::MandateList {
    crate::billing::mandates::MandateList { data: vec![mandate()] }
}

/// A web approval's links and codes, as an agent is answered.
pub fn web_approval(id: &str, message: String) -> crate::billing::web_approval::WebApproval {
    crate::billing::web_approval::WebApproval {
        status: crate::billing::web_approval::WebApproveRequiredStatus::WebApproveRequired,
        approval_id: id.into(),
        approval_url: format!("https://billing.example.com/approve/{id}"),
        polling_url: format!("https://billing.example.com/billing/approvals/{id}"),
        expires_in: 600,
        interval: 5,
        binding_code: "K7P-Q3M".into(),
        message,
    }
}

pub fn mandate_requested() -> crate::billing::mandate_request::MandateRequested {
    let id = "ap_2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e";
    let limits = granted_mandate().limits;
    let catalog = catalog();
    let message = "Let assistant act for Acme without asking each time, within these limits, until 2026-03-02 00:00 UTC.";
    crate::billing::mandate_request::MandateRequested {
        approval: web_approval(id, message.into()),
        mandate: crate::billing::mandate_request::MandateAsked {
            envelope: crate::domain::mandate::envelope_lines(&limits, &catalog),
            limits,
            expires_at: "2026-03-02T00:00:00Z".into(),
            reason: Some("nightly imports need Pro's row cap".into()),
        },
    }
}

pub fn agent_list() -> crate::billing::agents::AgentList {
    let mandate = mandate();
    crate::billing::agents::AgentList {
        data: vec![crate::billing::agents::AgentView {
            key_id: KEY_ID.into(),
            name: "assistant".into(),
            spent_today: mandate.used.credits_spent_today,
            charged_this_month: mandate.used.charged_this_month,
            mandate: Some(mandate),
            paused_until: None,
        }],
    }
}
