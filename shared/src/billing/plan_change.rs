//! `POST /billing/upgrade` and `POST /billing/downgrade`: plan changes, and the consent
//! handshake that lets an AI agent ask for one without making it.
//!
//! A HUMAN (or ADMIN) key executes directly. An AGENT gets `confirmation_required` with a
//! confirm token and the amounts from Stripe's invoice preview; the same call with the token
//! executes the change it was computed for, at the proration time of that preview.
//!
//! Atomicity: one change executes at a time per org (a lock on the org item, taken and
//! released with conditional writes); a token is claimed with a conditional write while the
//! lock is held, so of two uses exactly one executes; every executed change bumps the org's
//! `change_generation`, which voids every consent computed before it in O(1).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::billing::checkout::{SubscriptionCheckoutBody, subscription_checkout};
use crate::billing::load_org;
use crate::domain::api_key::{hash, random_hex};
use crate::domain::catalog::Interval;
use crate::domain::org::{Org, Principal, PrincipalKind};
use crate::domain::plan_change::{Config, UpgradeDecision, decide_upgrade, describe, money};
use crate::domain::subscription::apply_subscription;
use crate::domain::summary::billing_summary;
use crate::error::{ApiError, ErrorKind, FieldProblem};
use crate::retry::{Policy, retry};
use crate::store::{ConsentRecord, ConsentState};
use crate::stripe::{ChangeOutcome, PlanItem, idempotency_key};

/// How long a confirm token is valid.
pub const TOKEN_TTL_SECS: i64 = 60;
/// How long an executing change holds the org; a crashed execution frees it after this.
const LOCK_SECS: i64 = 60;
/// 128 random bits and then some.
const TOKEN_BYTES: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentMode {
    Chat,
    Web,
}

/// `POST /billing/upgrade`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeBody {
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub interval: Option<Interval>,
    #[serde(default)]
    pub quantity: Option<u32>,
    #[serde(default)]
    pub confirm_token: Option<String>,
    #[serde(default)]
    pub mode: Option<ConsentMode>,
}

/// `POST /billing/downgrade`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DowngradeBody {
    #[serde(default)]
    pub confirm_token: Option<String>,
    #[serde(default)]
    pub mode: Option<ConsentMode>,
}

/// How a change happens at Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    SwitchNow,
    AtPeriodEnd,
    ToFree,
    Resume,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::SwitchNow => "switch_now",
            Self::AtPeriodEnd => "at_period_end",
            Self::ToFree => "to_free",
            Self::Resume => "resume",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::SwitchNow, Self::AtPeriodEnd, Self::ToFree, Self::Resume].into_iter().find(|k| k.as_str() == text)
    }
}

/// A change as computed for one org state: what it is, what it costs, when it takes effect.
#[derive(Debug, Clone)]
struct Change {
    kind: Kind,
    from: Config,
    to: Config,
    amount_due_now: i64,
    recurring_amount: u64,
    effective_at: Option<i64>,
    proration_date: i64,
}

impl Change {
    fn view(&self, currency: &str) -> Value {
        json!({
            "kind": self.kind.as_str(),
            "from": self.from,
            "to": self.to,
            "amount_due_now": self.amount_due_now,
            "recurring_amount": self.recurring_amount,
            "currency": currency,
            "effective_at": self.effective_at,
            "proration_date": self.proration_date,
        })
    }

    fn from_view(view: &Value) -> Option<Self> {
        Some(Self {
            kind: Kind::parse(view["kind"].as_str()?)?,
            from: config_of(&view["from"])?,
            to: config_of(&view["to"])?,
            amount_due_now: view["amount_due_now"].as_i64()?,
            recurring_amount: view["recurring_amount"].as_u64()?,
            effective_at: view["effective_at"].as_i64(),
            proration_date: view["proration_date"].as_i64()?,
        })
    }
}

fn config_of(view: &Value) -> Option<Config> {
    Some(Config {
        plan: view["plan"].as_str()?.to_string(),
        interval: serde_json::from_value(view["interval"].clone()).ok(),
        quantity: u32::try_from(view["quantity"].as_u64()?).ok()?,
    })
}

fn status(name: &str) -> Value {
    json!({ "status": name })
}

fn invalid_token(reason: &str, message: &str) -> ApiError {
    ApiError::new(ErrorKind::InvalidConfirmToken, message).with_details(json!({ "reason": reason }))
}

fn change_in_progress() -> ApiError {
    ApiError::new(ErrorKind::ChangeInProgress, "Another plan change for this org is executing; retry in a moment.")
}

/// The configuration an upgrade asks for, validated against the catalog (nothing is
/// written or sent to Stripe for bad input).
fn target_of(app: &App, org: &Org, body: &UpgradeBody) -> Result<Config, ApiError> {
    let catalog = &app.config.catalog;
    let plan_id = body.plan.as_deref().unwrap_or("pro");
    let Some(plan) = catalog.plan(plan_id) else {
        return Err(ApiError::field("plan", format!("`{plan_id}` is not a plan of the catalog")));
    };
    if plan.is_free() {
        return Err(ApiError::field("plan", "is free: use POST /billing/downgrade"));
    }
    let mut problems = Vec::new();
    let interval = body.interval.or(org.interval).unwrap_or(Interval::Month);
    if plan.prices.get(interval).is_none() {
        problems.push(FieldProblem::new("interval", format!("`{}` is not offered for this plan", interval.as_str())));
    }
    let quantity = match (&plan.per_unit, body.quantity) {
        (Some(unit), quantity) => {
            let quantity = quantity.unwrap_or(if org.plan == plan.id { org.quantity } else { unit.min_quantity });
            if !(unit.min_quantity..=unit.max_quantity).contains(&quantity) {
                problems.push(FieldProblem::new(
                    "quantity",
                    format!("must be {} to {} {}", unit.min_quantity, unit.max_quantity, unit.resource.as_str()),
                ));
            }
            quantity
        }
        (None, Some(q)) if q != 1 => {
            problems.push(FieldProblem::new("quantity", "must be 1 (or left out): this plan is not priced per unit"));
            q
        }
        _ => 1,
    };
    match problems.is_empty() {
        true => Ok(Config { plan: plan.id.clone(), interval: Some(interval), quantity }),
        false => Err(ApiError::validation(problems)),
    }
}

fn params_of_upgrade(body: &UpgradeBody) -> String {
    let interval = body.interval.map_or("", Interval::as_str);
    let quantity = body.quantity.map(|q| q.to_string()).unwrap_or_default();
    idempotency_key(&["upgrade", body.plan.as_deref().unwrap_or("pro"), interval, &quantity])
}

fn refuse_web_mode(mode: Option<ConsentMode>) -> Result<(), ApiError> {
    match mode {
        Some(ConsentMode::Web) => Err(ApiError::field("mode", "`web` approvals are not available in this deployment yet; use `chat`")),
        _ => Ok(()),
    }
}

pub async fn upgrade(app: &App, principal: &Principal, body: &UpgradeBody, now: i64) -> Result<Value, ApiError> {
    refuse_web_mode(body.mode)?;
    let params = params_of_upgrade(body);
    if let Some(token) = &body.confirm_token {
        return confirm(app, principal, "upgrade", &params, token, now).await;
    }
    let org = load_org(&app.store, &principal.org_id).await?;
    let target = target_of(app, &org, body)?;
    if org.design_partner {
        return Ok(status("design-partner"));
    }
    if !has_subscription(&org) {
        let checkout = SubscriptionCheckoutBody {
            plan: target.plan.clone(),
            interval: target.interval.unwrap_or(Interval::Month),
            quantity: Some(target.quantity),
            success_url: None,
            cancel_url: None,
        };
        let link = subscription_checkout(app, principal, &checkout, now).await?;
        return Ok(json!({ "status": "checkout-required", "checkout_url": link.url, "session_id": link.session_id }));
    }
    let from = Config::of(&org);
    let kind = match decide_upgrade(&org, &target, &app.config.catalog) {
        UpgradeDecision::AlreadyOnPlan => return Ok(with_billing(app, status("already-on-plan"), &org, now)),
        UpgradeDecision::Resume => Kind::Resume,
        UpgradeDecision::SwitchNow => Kind::SwitchNow,
        UpgradeDecision::AtPeriodEnd => Kind::AtPeriodEnd,
    };
    let change = compute(app, &org, kind, from, target, now).await?;
    consent_or_execute(app, principal, &org, "upgrade", &params, change, now).await
}

pub async fn downgrade(app: &App, principal: &Principal, body: &DowngradeBody, now: i64) -> Result<Value, ApiError> {
    refuse_web_mode(body.mode)?;
    let params = idempotency_key(&["downgrade"]);
    if let Some(token) = &body.confirm_token {
        return confirm(app, principal, "downgrade", &params, token, now).await;
    }
    let org = load_org(&app.store, &principal.org_id).await?;
    if org.design_partner {
        return Ok(status("design-partner"));
    }
    if !has_subscription(&org) {
        return Ok(with_billing(app, status("already-free"), &org, now));
    }
    if org.cancel_at_period_end {
        let mut answer = with_billing(app, status("already-scheduled"), &org, now);
        answer["effective_at"] = json!(org.current_period_end);
        return Ok(answer);
    }
    let change = compute(app, &org, Kind::ToFree, Config::of(&org), Config::free(), now).await?;
    consent_or_execute(app, principal, &org, "downgrade", &params, change, now).await
}

fn has_subscription(org: &Org) -> bool {
    org.status.is_live() && org.stripe_subscription_id.is_some()
}

fn with_billing(app: &App, mut answer: Value, org: &Org, now: i64) -> Value {
    answer["billing"] = json!(billing_summary(org, &app.config.catalog, now, app.config.past_due_grace_secs));
    answer
}

/// The change's amounts: Stripe's invoice preview for one applied now (prorated at `now`,
/// which the update then uses too), nothing due now for one at period end.
async fn compute(app: &App, org: &Org, kind: Kind, from: Config, to: Config, now: i64) -> Result<Change, ApiError> {
    let catalog = &app.config.catalog;
    let recurring_amount = to.amount(catalog);
    let (amount_due_now, effective_at) = match kind {
        Kind::SwitchNow => {
            let stripe = app.stripe()?;
            let sub = stripe.retrieve_subscription(org.stripe_subscription_id.as_deref().unwrap_or_default()).await?;
            let price_id = price_of(app, &to)?;
            (stripe.preview_change(&sub, &PlanItem { price_id: &price_id, quantity: to.quantity }, now).await?, Some(now))
        }
        Kind::AtPeriodEnd | Kind::ToFree => (0, org.current_period_end),
        Kind::Resume => (0, None),
    };
    Ok(Change { kind, from, to, amount_due_now, recurring_amount, effective_at, proration_date: now })
}

fn price_of(app: &App, config: &Config) -> Result<String, ApiError> {
    app.config
        .catalog
        .plan(&config.plan)
        .and_then(|plan| plan.prices.get(config.interval?))
        .map(|price| price.price_id.clone())
        .ok_or_else(|| ApiError::internal(format!("plan `{}` has no price for its interval", config.plan)))
}

/// The sentence a human says yes to.
fn message(app: &App, org: &Org, change: &Change) -> String {
    let catalog = &app.config.catalog;
    let currency = &catalog.currency;
    let (from, to) = (describe(&change.from, catalog), describe(&change.to, catalog));
    let per = match change.to.interval {
        Some(Interval::Year) => "year",
        _ => "month",
    };
    let recurring = money(i64::try_from(change.recurring_amount).unwrap_or(i64::MAX), currency);
    match change.kind {
        Kind::SwitchNow => format!(
            "Switch {} from {from} to {to} now: {} is charged today (prorated), then {recurring} per {per}.",
            org.name,
            money(change.amount_due_now, currency)
        ),
        Kind::AtPeriodEnd => format!(
            "Move {} from {from} to {to} at the end of the current period: nothing is charged today, then {recurring} per {per}.",
            org.name
        ),
        Kind::ToFree => format!(
            "Move {} from {from} to Free at the end of the current period: the subscription ends then and nothing more is charged.",
            org.name
        ),
        Kind::Resume => format!("Keep {} on {from}.", org.name),
    }
}

async fn consent_or_execute(
    app: &App,
    principal: &Principal,
    org: &Org,
    action: &str,
    params: &str,
    change: Change,
    now: i64,
) -> Result<Value, ApiError> {
    if principal.kind != PrincipalKind::Agent || change.kind == Kind::Resume {
        let key = idempotency_key(&["plan_change", &org.org_id, action, params, &org.change_generation.to_string()]);
        return execute(app, &org.org_id, &change, org.change_generation, None, &key, now).await;
    }
    let token = format!("ct_{}", random_hex(TOKEN_BYTES));
    let view = change.view(&app.config.catalog.currency);
    let record = ConsentRecord {
        token_hash: hash(&token),
        org_id: org.org_id.clone(),
        principal_id: principal.principal_id.clone(),
        action: action.to_string(),
        params: params.to_string(),
        generation: org.change_generation,
        proration_date: change.proration_date,
        change: view.to_string(),
        valid_until: now + TOKEN_TTL_SECS,
        state: ConsentState::Pending,
        result: None,
    };
    app.store.put_consent(&record).await?;
    tracing::info!(org_id = %org.org_id, principal_id = %principal.principal_id, action, "confirmation required");
    Ok(json!({
        "status": "confirmation_required",
        "confirm_token": token,
        "expires_in": TOKEN_TTL_SECS,
        "message": message(app, org, &change),
        "change": public_change(&view),
    }))
}

/// The `change` a client sees: from, to, amounts, when.
fn public_change(view: &Value) -> Value {
    json!({
        "from": view["from"],
        "to": view["to"],
        "amount_due_now": view["amount_due_now"],
        "recurring_amount": view["recurring_amount"],
        "currency": view["currency"],
        "effective_at": view["effective_at"],
    })
}

/// The second call of the handshake: checks the token, then executes the change it is for.
async fn confirm(app: &App, principal: &Principal, action: &str, params: &str, token: &str, now: i64) -> Result<Value, ApiError> {
    let token_hash = hash(token);
    let record = app.store.get_consent(&token_hash).await?.filter(|r| r.org_id == principal.org_id);
    let Some(record) = record else {
        return Err(invalid_token("unknown", "This confirm token is unknown: ask again without a token."));
    };
    if record.principal_id != principal.principal_id || record.action != action || record.params != params {
        return Err(invalid_token(
            "mismatch",
            "This confirm token was issued for another caller or other parameters; nothing was changed.",
        ));
    }
    if record.state == ConsentState::Used {
        return Err(used(&record));
    }
    if record.valid_until <= now {
        return Err(invalid_token("expired", "This confirm token has expired: ask again without a token."));
    }
    let change = serde_json::from_str::<Value>(&record.change).ok().as_ref().and_then(Change::from_view);
    let Some(change) = change else {
        return Err(ApiError::internal("A stored consent could not be read."));
    };
    let key = idempotency_key(&["plan_change", &record.org_id, &token_hash]);
    let outcome = execute(app, &record.org_id, &change, record.generation, Some(&token_hash), &key, now).await;
    let result = match &outcome {
        Ok(answer) => answer.clone(),
        Err(err) if err.kind == ErrorKind::InvalidConfirmToken => return outcome,
        Err(err) => json!({ "error": err.kind.code(), "message": err.message }),
    };
    app.store.record_consent_result(&token_hash, &result.to_string()).await?;
    outcome
}

fn used(record: &ConsentRecord) -> ApiError {
    let mut details = json!({ "reason": "used" });
    if let Some(result) = record.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()) {
        details["result"] = result;
    }
    ApiError::new(
        ErrorKind::InvalidConfirmToken,
        "This confirm token was used already; `details.result` has what that call did, when known.",
    )
    .with_details(details)
}

/// Executes `change` once: takes the org's change lock (refusing a consent computed for an
/// older plan), claims the consent if there is one, makes the Stripe calls, then writes
/// Stripe's new state onto the org, bumps its generation and frees the lock.
async fn execute(
    app: &App,
    org_id: &str,
    change: &Change,
    generation: u64,
    consent: Option<&str>,
    key: &str,
    now: i64,
) -> Result<Value, ApiError> {
    let stripe = app.stripe()?;
    let org = retry(Policy::WRITE_RACE, "lock_plan_change", |_| async {
        let mut org = load_org(&app.store, org_id).await?;
        if org.change_lock_until.is_some_and(|until| until > now) {
            return Err(change_in_progress().into());
        }
        if org.change_generation != generation {
            return Err(
                invalid_token("mismatch", "The plan changed since this confirmation was given; nothing was changed. Ask again.").into()
            );
        }
        org.change_lock_until = Some(now + LOCK_SECS);
        app.store.save_org(&mut org).await?;
        Ok(org)
    })
    .await?;
    if let Some(token_hash) = consent
        && let Err(err) = app.store.claim_consent(token_hash, now).await
    {
        unlock(app, org_id, None, now).await?;
        return Err(match err.is_conflict() {
            true => match app.store.get_consent(token_hash).await? {
                Some(record) if record.state == ConsentState::Used => used(&record),
                _ => invalid_token("expired", "This confirm token has expired: ask again without a token."),
            },
            false => err.into(),
        });
    }
    let subscription_id = org.stripe_subscription_id.clone().unwrap_or_default();
    let applied = async {
        let sub = stripe.retrieve_subscription(&subscription_id).await?;
        match change.kind {
            Kind::SwitchNow => {
                let price_id = price_of(app, &change.to)?;
                let to = PlanItem { price_id: &price_id, quantity: change.to.quantity };
                if let Some(schedule) = &sub.schedule_id {
                    stripe.release_schedule(schedule).await?;
                }
                if let ChangeOutcome::PaymentFailed { invoice_id } = stripe.change_now(&sub, &to, change.proration_date, key).await? {
                    return Err(ApiError::new(
                        ErrorKind::PaymentFailed,
                        "The card was declined for the prorated amount; the plan was not changed.",
                    )
                    .with_details(json!({ "invoice_id": invoice_id })));
                }
            }
            Kind::AtPeriodEnd => {
                let price_id = price_of(app, &change.to)?;
                if sub.cancel_at_period_end {
                    stripe.cancel_at_period_end(&sub.id, false, &format!("{key}-resume")).await?;
                }
                stripe.change_at_period_end(&sub, &PlanItem { price_id: &price_id, quantity: change.to.quantity }, key).await?;
            }
            Kind::ToFree => {
                // Stripe refuses a cancel on a subscription a schedule manages: release it first.
                if let Some(schedule) = &sub.schedule_id {
                    stripe.release_schedule(schedule).await?;
                }
                stripe.cancel_at_period_end(&sub.id, true, key).await?;
            }
            Kind::Resume => {
                if let Some(schedule) = &sub.schedule_id {
                    stripe.release_schedule(schedule).await?;
                }
                if sub.cancel_at_period_end {
                    stripe.cancel_at_period_end(&sub.id, false, key).await?;
                }
            }
        }
        Ok::<_, ApiError>(stripe.retrieve_subscription(&subscription_id).await?)
    }
    .await;
    let fresh = match applied {
        Ok(fresh) => fresh,
        Err(err) => {
            unlock(app, org_id, None, now).await?;
            return Err(err);
        }
    };
    let org = unlock(app, org_id, Some(&fresh), now).await?;
    tracing::info!(org_id, kind = change.kind.as_str(), plan = %change.to.plan, "plan change executed");
    let name = match change.kind {
        Kind::SwitchNow => "switched",
        Kind::AtPeriodEnd => "change-scheduled",
        Kind::ToFree => "downgrade-scheduled",
        Kind::Resume => "resumed",
    };
    let mut answer = with_billing(app, status(name), &org, now);
    if matches!(change.kind, Kind::AtPeriodEnd | Kind::ToFree) {
        answer["effective_at"] = json!(fresh.current_period_end);
    }
    Ok(answer)
}

/// Frees the change lock; with Stripe's new state, also writes it and voids older consents.
async fn unlock(
    app: &App,
    org_id: &str,
    fresh: Option<&crate::domain::subscription::SubscriptionState>,
    now: i64,
) -> Result<Org, ApiError> {
    retry(Policy::WRITE_RACE, "unlock_plan_change", |_| async {
        let mut org = load_org(&app.store, org_id).await?;
        org.change_lock_until = None;
        if let Some(fresh) = fresh {
            apply_subscription(&mut org, fresh, &app.config.catalog, now);
            org.change_generation += 1;
        }
        app.store.save_org(&mut org).await?;
        Ok(org)
    })
    .await
}
