//! `POST /billing/upgrade` and `POST /billing/downgrade`: plan changes, and the consent
//! handshake that lets an AI agent ask for one without making it.
//!
//! A HUMAN (or ADMIN) key executes directly. An AGENT gets a consent to ask for instead: in
//! chat mode (`consent`) a confirm token and the amounts from Stripe's invoice preview, the same
//! call with the token executing the change it was computed for, at the proration time of that
//! preview; in web mode (`approval`) an approval a human approves or denies on a page while the
//! agent polls. Both execute through `execute`.
//!
//! Atomicity: one change executes at a time per org (a lock on the org item, taken and
//! released with conditional writes); a token or approval is claimed with a conditional write
//! while the lock is held, so of two uses exactly one executes; every executed change bumps the
//! org's `change_generation`, which voids every consent computed before it in O(1).

pub mod answer;
pub mod approval;
mod consent;
mod execute;
pub mod trial;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::billing::checkout::{SubscriptionCheckoutBody, subscription_checkout};
use crate::billing::mandates::{self, MandateUncovered};
use crate::billing::promotion_codes::resolve;
use crate::billing::{Caller, load_org_and_mandate};
use crate::domain::catalog::{Interval, Price};
use crate::domain::change::{AppliedStatus, Change, ChangeKind as Kind, IntentClaim, PlanConfig};
use crate::domain::mandate::{Draw, Mandate, MandateUse};
use crate::domain::org::Org;
use crate::domain::plan_change::{UpgradeDecision, configure, consent_message, decide_upgrade};
use crate::domain::principal::Actor;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::promotion::check_code_text;
use crate::domain::trial::trial_end;
use crate::error::ApiError;
use crate::stripe::{DueNow, PlanItem, idempotency_key};

use answer::{
    Applied, CheckoutRequired, ConfirmationRequired, DesignPartner, DowngradeAnswer, TrialEndAnswer, UpgradeAnswer, WebApproveRequired,
};
pub use consent::TOKEN_TTL_SECS;
pub use execute::complete_stuck_intents;
pub(crate) use execute::settle;
use execute::{AskedBy, NotRun};

/// How an AGENT's human consents: `chat` (a confirm token the agent repeats) or `web` (an
/// approval page the human opens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsentMode {
    Chat,
    Web,
}

/// `POST /billing/upgrade`: every field optional.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeBody {
    /// A paid plan of the catalog; default `pro`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::field_schemas::paid_plan_or_null)]
    pub plan: Option<String>,
    /// Default: the current interval, else `month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    /// Per-unit plans: the units (default: the current quantity on the same plan, else the
    /// plan's minimum); other plans: 1 or left out.
    #[serde(default, deserialize_with = "crate::domain::whole_number::optional", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::field_schemas::plan_quantity)]
    pub quantity: Option<u32>,
    /// The token of a `confirmation_required` answer: executes the change it was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^ct_[0-9a-f]{48}$")]
    pub confirm_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ConsentMode>,
    /// A promotion code (`LAUNCH20`), checked against the plan moved to before anything is asked
    /// and bound into the confirm token: a change made now includes its discount in the amount
    /// charged, a scheduled one puts it on the subscription at once; an org without a
    /// subscription gets it in its Checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub promotion_code: Option<String>,
}

/// `POST /billing/downgrade`: every field optional.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DowngradeBody {
    /// The token of a `confirmation_required` answer: executes the change it was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^ct_[0-9a-f]{48}$")]
    pub confirm_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ConsentMode>,
}

/// The configuration an upgrade asks for, validated against the catalog (nothing is
/// written or sent to Stripe for bad input).
fn target_of(app: &App, org: &Org, body: &UpgradeBody) -> Result<PlanConfig, ApiError> {
    let plan_id = body.plan.as_deref().unwrap_or("pro");
    let Some(plan) = app.config.catalog.plan(plan_id) else {
        return Err(ApiError::field("plan", format!("`{plan_id}` is not a plan of the catalog")));
    };
    if plan.is_free() {
        return Err(ApiError::field("plan", "is free: use POST /billing/downgrade"));
    }
    configure(plan, org, body.interval, body.quantity).map_err(ApiError::validation)
}

fn params_of_upgrade(body: &UpgradeBody) -> String {
    let interval = body.interval.map_or("", Interval::as_str);
    let quantity = body.quantity.map(|q| q.to_string()).unwrap_or_default();
    let code = body.promotion_code.as_deref().unwrap_or_default();
    idempotency_key(&["upgrade", body.plan.as_deref().unwrap_or("pro"), interval, &quantity, code])
}

pub async fn upgrade(app: &App, caller: &Caller<'_>, body: &UpgradeBody, now: i64) -> Result<UpgradeAnswer, ApiError> {
    let principal = caller.principal;
    if let Some(Err(problem)) = body.promotion_code.as_deref().map(check_code_text) {
        return Err(ApiError::validation(vec![problem]));
    }
    let params = params_of_upgrade(body);
    if let Some(token) = &body.confirm_token {
        return consent::confirm(app, principal, "upgrade", &params, token, now).await.map(UpgradeAnswer::Applied);
    }
    let (org, mandate) = load_org_and_mandate(&app.store, principal).await?;
    let target = target_of(app, &org, body)?;
    if org.design_partner {
        return Ok(UpgradeAnswer::DesignPartner(DesignPartner::default()));
    }
    if !has_subscription(&org) {
        let checkout = SubscriptionCheckoutBody {
            plan: target.plan.clone(),
            interval: target.interval.unwrap_or(Interval::Month),
            quantity: Some(target.quantity),
            success_url: None,
            cancel_url: None,
            promotion_code: body.promotion_code.clone(),
        };
        let opened = subscription_checkout(app, principal, &checkout, now).await?;
        return Ok(UpgradeAnswer::CheckoutRequired(CheckoutRequired::of(opened.link)));
    }
    let from = PlanConfig::of(&org);
    let kind = match decide_upgrade(&org, &target, &app.config.catalog) {
        UpgradeDecision::AlreadyOnPlan if body.promotion_code.is_some() => {
            return Err(ApiError::field(
                "promotion_code",
                "the org is on this plan already: apply the code with POST /billing/promotion-code",
            ));
        }
        UpgradeDecision::AlreadyOnPlan => return Ok(UpgradeAnswer::Applied(Applied::of(app, AppliedStatus::AlreadyOnPlan, &org, now))),
        UpgradeDecision::Resume => Kind::Resume,
        UpgradeDecision::SwitchNow => Kind::SwitchNow,
        UpgradeDecision::AtPeriodEnd => Kind::AtPeriodEnd,
    };
    // Checked against the plan moved to before anything is previewed or asked.
    let promotion_code = match &body.promotion_code {
        Some(code) => Some(resolve(app, &org, code, plan_price(app, &target)?, target.quantity, now).await?),
        None => None,
    };
    let change = compute(app, &org, kind, (from, target), promotion_code, now).await?;
    let asked = Asked { action: "upgrade", params: &params, mode: body.mode };
    Ok(consent_or_execute(app, caller, (&org, mandate.as_ref()), asked, change, now).await?.into())
}

pub async fn downgrade(app: &App, caller: &Caller<'_>, body: &DowngradeBody, now: i64) -> Result<DowngradeAnswer, ApiError> {
    let principal = caller.principal;
    let params = idempotency_key(&["downgrade"]);
    if let Some(token) = &body.confirm_token {
        return consent::confirm(app, principal, "downgrade", &params, token, now).await.map(DowngradeAnswer::Applied);
    }
    let (org, mandate) = load_org_and_mandate(&app.store, principal).await?;
    if org.design_partner {
        return Ok(DowngradeAnswer::DesignPartner(DesignPartner::default()));
    }
    if !has_subscription(&org) {
        return Ok(DowngradeAnswer::Applied(Applied::of(app, AppliedStatus::AlreadyFree, &org, now)));
    }
    if org.cancel_at_period_end {
        let answer = Applied { effective_at: org.current_period_end, ..Applied::of(app, AppliedStatus::AlreadyScheduled, &org, now) };
        return Ok(DowngradeAnswer::Applied(answer));
    }
    let change = compute(app, &org, Kind::ToFree, (PlanConfig::of(&org), PlanConfig::free()), None, now).await?;
    let asked = Asked { action: "downgrade", params: &params, mode: body.mode };
    Ok(consent_or_execute(app, caller, (&org, mandate.as_ref()), asked, change, now).await?.into())
}

fn has_subscription(org: &Org) -> bool {
    org.status.is_live() && org.stripe_subscription_id.is_some()
}

/// The change's amounts: Stripe's invoice preview for one applied now (prorated at `now`,
/// which the update then uses too; nothing during a trial) or for a trial ended now, nothing
/// due now for one at period end (a trial's end, during one).
async fn compute(
    app: &App,
    org: &Org,
    kind: Kind,
    (from, to): (PlanConfig, PlanConfig),
    promotion_code: Option<String>,
    now: i64,
) -> Result<Change, ApiError> {
    let catalog = &app.config.catalog;
    let recurring_amount = to.amount(catalog);
    let (due, effective_at) = match kind {
        Kind::SwitchNow => {
            let stripe = app.stripe()?;
            let sub = stripe.retrieve_subscription(org.stripe_subscription_id.as_deref().unwrap_or_default()).await?;
            let price_id = price_of(app, &to)?;
            let item = PlanItem { price_id: &price_id, quantity: to.quantity, promotion_code: promotion_code.as_deref() };
            (stripe.preview_change(&sub, &item, now).await?, Some(now))
        }
        Kind::AtPeriodEnd | Kind::ToFree => (DueNow::default(), org.current_period_end),
        Kind::Resume => (DueNow::default(), None),
        Kind::EndTrial => {
            let subscription_id = org.stripe_subscription_id.as_deref().unwrap_or_default();
            (app.stripe()?.preview_trial_end(subscription_id).await?, Some(now))
        }
    };
    Ok(Change {
        kind,
        from,
        to,
        amount_due_now: due.amount,
        recurring_amount,
        effective_at,
        proration_date: now,
        trial_ends_at: trial_end(org).ok(),
        tax_due_now: due.tax,
        discount_due_now: due.discount,
        promotion_code,
    })
}

fn price_of(app: &App, config: &PlanConfig) -> Result<String, ApiError> {
    plan_price(app, config).map(|price| price.price_id.clone())
}

/// The catalog's price of a paid configuration (every paid plan has one per interval).
fn plan_price<'a>(app: &'a App, config: &PlanConfig) -> Result<&'a Price, ApiError> {
    config.price(&app.config.catalog).ok_or_else(|| ApiError::internal(format!("plan `{}` has no price for its interval", config.plan)))
}

/// What a consent is asked for: the action, the hash of its resolved parameters, the mode.
#[derive(Clone, Copy)]
struct Asked<'a> {
    action: &'a str,
    params: &'a str,
    mode: Option<ConsentMode>,
}

/// What an AGENT's human is asked: the change, the sentence they say yes to, and why the
/// agent's mandate did not cover it.
struct Question<'a> {
    change: &'a Change,
    message: String,
    uncovered: MandateUncovered,
}

/// What `consent_or_execute` came to: the change done, or a consent asked for.
enum Outcome {
    Applied(Applied),
    Confirmation(ConfirmationRequired),
    WebApproval(WebApproveRequired),
}

impl From<Outcome> for UpgradeAnswer {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Applied(answer) => Self::Applied(answer),
            Outcome::Confirmation(answer) => Self::ConfirmationRequired(answer),
            Outcome::WebApproval(answer) => Self::WebApproveRequired(answer),
        }
    }
}

impl From<Outcome> for TrialEndAnswer {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Applied(answer) => Self::Applied(answer),
            Outcome::Confirmation(answer) => Self::ConfirmationRequired(answer),
            Outcome::WebApproval(answer) => Self::WebApproveRequired(answer),
        }
    }
}

impl From<Outcome> for DowngradeAnswer {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Applied(answer) => Self::Applied(answer),
            Outcome::Confirmation(answer) => Self::ConfirmationRequired(answer),
            Outcome::WebApproval(answer) => Self::WebApproveRequired(answer),
        }
    }
}

/// A HUMAN's change (and an agent's resume, which costs nothing) executes now; an AGENT's
/// executes now inside its mandate (`mandate`, read with `org`), and otherwise needs its
/// human's consent first, asked for in the mode the agent chose.
async fn consent_or_execute(
    app: &App,
    caller: &Caller<'_>,
    (org, mandate): (&Org, Option<&Mandate>),
    asked: Asked<'_>,
    change: Change,
    now: i64,
) -> Result<Outcome, ApiError> {
    let principal = caller.principal;
    let key = idempotency_key(&["plan_change", &org.org_id, asked.action, asked.params, &org.change_generation.to_string()]);
    if principal.kind != PrincipalKind::Agent || change.kind == Kind::Resume {
        return execute::execute(
            app,
            org,
            &change,
            org.change_generation,
            &key,
            AskedBy { requester: Actor::of(principal), claim: None, decision: None },
            now,
        )
        .await
        .map(Outcome::Applied)
        .map_err(|not_run| match not_run {
            NotRun::Failed(error) => error,
            // The org moved on since this request read it (no consent to be taken).
            NotRun::Stale | NotRun::ClaimTaken => ApiError::contended(),
        });
    }
    let charge = u64::try_from(change.amount_due_now).unwrap_or(0);
    let action = MandateUse::PlanChange { plan: &change.to.plan, quantity: change.to.quantity, charge };
    let covered = mandates::cover(app, mandate, &action, now);
    let limit = match covered {
        Ok((mandate, draw)) => match under_mandate(app, principal, org, &change, &key, mandate, draw, now).await? {
            Some(applied) => return Ok(Outcome::Applied(applied)),
            // The envelope was drawn from (or the mandate revoked) meanwhile: read it again.
            None => {
                let again = app.store.get_mandate(&org.org_id, &principal.key_id).await?;
                mandates::cover(app, again.as_ref(), &action, now).err().ok_or_else(ApiError::contended)?
            }
        },
        Err(limit) => limit,
    };
    let question = Question {
        message: consent_message(org, &change, &app.config.catalog, app.config.automatic_tax),
        change: &change,
        uncovered: MandateUncovered::of(limit),
    };
    Ok(match asked.mode.unwrap_or(ConsentMode::Chat) {
        ConsentMode::Chat => Outcome::Confirmation(consent::ask(app, principal, org, asked, question, now).await?),
        ConsentMode::Web => Outcome::WebApproval(approval::ask(app, caller, org, asked, question, now).await?),
    })
}

/// Executes an agent's change inside its mandate, the draw taken with the change's intent:
/// the answer names the mandate and what remains of it. `None` when the draw was refused
/// (a racing action used the envelope first, or the mandate was revoked).
#[allow(clippy::too_many_arguments)]
async fn under_mandate(
    app: &App,
    principal: &Principal,
    org: &Org,
    change: &Change,
    key: &str,
    mandate: &Mandate,
    draw: Draw,
    now: i64,
) -> Result<Option<Applied>, ApiError> {
    let used = mandates::used_for(mandate, &draw, now);
    let claim = IntentClaim::Mandate { draw, granted_by: mandate.granted_by.clone(), use_id: key.to_string() };
    let asked_by = AskedBy { requester: Actor::of(principal), claim: Some(claim), decision: None };
    match execute::execute(app, org, change, org.change_generation, key, asked_by, now).await {
        Ok(mut answer) => {
            answer.mandate = Some(used);
            tracing::info!(org_id = %org.org_id, mandate_id = %mandate.mandate_id, "plan change executed inside a mandate");
            Ok(Some(answer))
        }
        Err(NotRun::ClaimTaken) => Ok(None),
        Err(NotRun::Stale) => Err(ApiError::contended()),
        Err(NotRun::Failed(error)) => Err(error),
    }
}
