//! Executing a plan change at Stripe, once, with answers that stay true when a function dies
//! half way. Before the first Stripe write the change is recorded on the org as an intent, in
//! the same conditional write that takes the org's change lock and claims the consent. Whoever
//! finds an intent (the request itself, its retry, a poll, a second Approve click, a webhook,
//! the reconciler) completes it by replaying exactly its Stripe requests: the same idempotency
//! keys and bodies, the proration time pinned, so Stripe's saved answers say what happened. The
//! result goes onto the org together with the consent's outcome, and the intent is dropped.
//! While Stripe's answer cannot be had, the intent stays and answers say the outcome is being
//! confirmed; they never say that nothing changed.

use serde_json::json;

use super::answer::Applied;
use super::price_of;
use crate::App;
use crate::billing::load_org;
use crate::domain::activity::{Activity, Consent, PlanChangeKind, org_changes};
use crate::domain::change::{Change, ChangeIntent, ChangeKind, IntentClaim};
use crate::domain::mandate::Draw;
use crate::domain::org::{Org, SubscriptionStatus};
use crate::domain::principal::Actor;
use crate::domain::subscription::{SubscriptionState, apply_subscription};
use crate::error::{ApiError, ErrorKind};
use crate::metrics;
use crate::retry::{Failure, Policy, retry};
use crate::store::{Begun, ClaimOutcome, Finished, StoreError};
use crate::stripe::{ChangeOutcome, GatewayError, PlanItem, StripeGateway};
use crate::telemetry::current_request_id;

/// What a client is asked to wait before asking again about a change being confirmed.
const CONFIRMING_RETRY_AFTER_SECS: u64 = 5;

/// Who asks for a change, and the consent it uses up (an approval's with the record of the
/// human's decision).
pub(super) struct AskedBy {
    pub requester: Actor,
    pub claim: Option<IntentClaim>,
    pub decision: Option<Activity>,
}

/// Executes `change` once on the org `read` (as the caller just read it): records it as the
/// org's intent (refusing a consent computed for an older plan, claiming the consent if there
/// is one, with the record of its decision), then completes it. An intent of another
/// request found on the org is completed first; this very request's (a retry) is completed as
/// recorded, so the retry replays the first attempt rather than asking Stripe for something new
/// (a consent's second use is `ClaimTaken`, and its caller says what the first did).
pub(super) async fn execute(
    app: &App,
    read: &Org,
    change: &Change,
    generation: u64,
    stripe_key: &str,
    asked_by: AskedBy,
    now: i64,
) -> Result<Applied, NotRun> {
    app.stripe()?;
    let (claim, requested_by, decision) = (&asked_by.claim, &asked_by.requester, &asked_by.decision);
    let (org, intent) = retry(Policy::WRITE_RACE, "begin_plan_change", |attempt| async move {
        // The caller's read serves the first attempt; a lost race reads again.
        let mut org = if attempt == 1 { read.clone() } else { load_org(&app.store, &read.org_id).await? };
        if let Some(intent) = org.change_intent.clone() {
            if intent.stripe_key == stripe_key && claim.as_ref().is_none_or(IntentClaim::is_standing) {
                return Ok((org, intent));
            }
            let ours = claim.as_ref().is_some_and(|claim| intent.claims(claim.consent_hash()));
            let _outcome = complete(app, org, intent, now).await.map_err(|e| Failure::Permanent(e.into()))?;
            // Our consent was used by a concurrent call: its caller says what that call did.
            return Err(match ours {
                true => Failure::Permanent(NotRun::ClaimTaken),
                false => Failure::Transient(ApiError::contended().into()),
            });
        }
        if org.change_generation != generation {
            return Err(Failure::Permanent(NotRun::Stale));
        }
        let intent = ChangeIntent {
            change: change.clone(),
            stripe_key: stripe_key.to_string(),
            claim: claim.clone(),
            generation,
            started_at: now,
            requested_by: Some(requested_by.clone()),
        };
        org.change_intent = Some(intent.clone());
        // A write that failed without an answer may still have been applied: the intent may be
        // stored, to be completed by whoever comes next, so the answer cannot be "nothing changed".
        let begun = app.store.begin_change(&mut org, now, decision.as_slice()).await.map_err(|e| match e {
            StoreError::Unavailable { .. } => Failure::Permanent(NotRun::Failed(being_confirmed(&org.org_id, &e.into()))),
            other => Failure::Permanent(NotRun::Failed(other.into())),
        })?;
        match begun {
            Begun::Started => Ok((org, intent)),
            Begun::OrgChanged => Err(Failure::Transient(ApiError::contended().into())),
            Begun::ClaimRefused => Err(Failure::Permanent(NotRun::ClaimTaken)),
        }
    })
    .await?;
    Ok(complete(app, org, intent, now).await??)
}

/// Why `execute` did not run the change it was given; a consent's module words the first two
/// for its own kind of consent.
#[derive(Debug)]
pub(super) enum NotRun {
    /// The consent was used, decided or lapsed first (by a concurrent call, whose change may
    /// have run).
    ClaimTaken,
    /// The org's plan changed since the change was computed.
    Stale,
    Failed(ApiError),
}

impl From<ApiError> for NotRun {
    fn from(error: ApiError) -> Self {
        Self::Failed(error)
    }
}

impl From<ApiError> for Failure<NotRun> {
    fn from(error: ApiError) -> Self {
        Failure::Permanent(error.into())
    }
}

impl std::fmt::Display for NotRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClaimTaken => f.write_str("the consent was used first"),
            Self::Stale => f.write_str("the plan changed since the change was computed"),
            Self::Failed(error) => write!(f, "{}", error.message),
        }
    }
}

/// Completes the org's intent, if it holds one, and answers the org as it is then.
pub(crate) async fn settle(app: &App, org: Org, now: i64) -> Result<Org, ApiError> {
    let Some(intent) = org.change_intent.clone() else { return Ok(org) };
    let org_id = org.org_id.clone();
    let _outcome = complete(app, org, intent, now).await?;
    load_org(&app.store, &org_id).await
}

/// Replays `intent`'s Stripe requests and records what they came to. The outer error: the
/// outcome could not be confirmed (the intent stays for the next attempt). The inner result:
/// the change's own answer, executed or refused by Stripe.
async fn complete(app: &App, org: Org, intent: ChangeIntent, now: i64) -> Result<Result<Applied, ApiError>, ApiError> {
    let stripe = app.stripe()?;
    let change = &intent.change;
    let fresh = match apply(app, stripe, &org, change, &intent.stripe_key).await {
        Ok(fresh) => Ok(fresh),
        Err(Step::Refused(error)) => Err(error),
        Err(Step::Unknown(error)) => return Err(being_confirmed(&org.org_id, &error)),
    };
    let finished = retry(Policy::WRITE_RACE, "finish_plan_change", |attempt| {
        let (org, fresh) = (org.clone(), &fresh);
        let intent = &intent;
        async move {
            let mut org = if attempt == 1 { org } else { load_org(&app.store, &org.org_id).await? };
            if org.change_intent.as_ref().is_none_or(|held| held.stripe_key != intent.stripe_key) {
                // Another attempt finished it with the same Stripe answers.
                return Ok(fresh.as_ref().map(|_| executed(app, intent.change.kind, &org, now)).map_err(Clone::clone));
            }
            let before = org.clone();
            org.change_intent = None;
            if let Ok(fresh) = fresh {
                apply_subscription(&mut org, fresh, &app.config.catalog, now);
                org.change_generation += 1;
            }
            let activities = changed(app, intent, &before, &org, now);
            let answer = fresh.as_ref().map(|_| executed(app, intent.change.kind, &org, now)).map_err(Clone::clone);
            let result = match &answer {
                Ok(answer) => json!(answer),
                Err(error) => json!({ "error": error.kind.code(), "message": error.message }),
            };
            let outcome = ClaimOutcome { executed: answer.is_ok(), result: &result.to_string() };
            match app.store.finish_change(&mut org, intent.claim.as_ref(), outcome, &activities).await? {
                Finished::Written => {
                    match (&answer, &intent.claim) {
                        (Ok(_), _) => metrics::plan_changed(intent.change.kind, &intent.change.to.plan),
                        (Err(_), Some(IntentClaim::Mandate { draw, .. })) => give_back(app, &org.org_id, draw).await,
                        (Err(_), _) => {}
                    }
                    Ok(answer)
                }
                Finished::OrgChanged => Err(Failure::Transient(ApiError::contended())),
            }
        }
    })
    .await
    .map_err(|error| being_confirmed(&org.org_id, &error))?;
    match &finished {
        Ok(_) => tracing::info!(org_id = %org.org_id, kind = change.kind.as_str(), plan = %change.to.plan, "plan change executed"),
        Err(error) => {
            tracing::info!(org_id = %org.org_id, kind = change.kind.as_str(), error = error.kind.code(), "plan change refused by Stripe")
        }
    }
    Ok(finished)
}

/// Gives a mandate back what a change that did not happen drew. Best effort: if this fails
/// (or the function dies first), the envelope stays lowered, never raised.
async fn give_back(app: &App, org_id: &str, draw: &Draw) {
    if let Err(error) = app.store.release_mandate(org_id, draw).await {
        tracing::warn!(org_id, mandate_id = %draw.mandate_id, error = %error, "a mandate's draw for a failed change was not given back");
    }
}

/// The records of what an intent's completion changed, by its requester, under its consent.
fn changed(app: &App, intent: &ChangeIntent, before: &Org, after: &Org, now: i64) -> Vec<Activity> {
    let actor = intent.requested_by.clone().unwrap_or(Actor::System);
    let consent = intent.claim.as_ref().map(Consent::of);
    org_changes(before, after, PlanChangeKind::of(intent.change.kind), app.config.credits_low_level)
        .into_iter()
        .map(|event| Activity::new(&after.org_id, now, actor.clone(), event, current_request_id()).under(consent.clone()))
        .collect()
}

/// The answer of an executed change, from the org as it is after it.
fn executed(app: &App, kind: ChangeKind, org: &Org, now: i64) -> Applied {
    let effective_at = if kind.takes_effect_later() { org.current_period_end } else { None };
    Applied { effective_at, ..Applied::of(app, kind.executed_status(), org, now) }
}

/// The answer while a change's outcome at Stripe is not known yet.
fn being_confirmed(org_id: &str, cause: &ApiError) -> ApiError {
    tracing::warn!(org_id, cause = cause.kind.code(), problem = %cause.message, "plan change outcome not confirmed yet; the next request or the reconciler completes it");
    ApiError::new(
        ErrorKind::ChangeInProgress,
        "A plan change for this org is being confirmed with Stripe; call again after `Retry-After` seconds to see its result.",
    )
    .with_details(json!({ "retry_after": CONFIRMING_RETRY_AFTER_SECS }))
}

/// How a Stripe step failed: refused (Stripe says nothing changed), or with an unknown outcome.
enum Step {
    Refused(ApiError),
    Unknown(ApiError),
}

impl From<GatewayError> for Step {
    fn from(err: GatewayError) -> Self {
        match err.is_refusal() {
            true => Self::Refused(err.into()),
            false => Self::Unknown(err.into()),
        }
    }
}

/// A change Stripe kept as it was because the card did not pay its invoice.
fn declined(message: &str, invoice_id: Option<String>) -> Step {
    Step::Refused(ApiError::new(ErrorKind::PaymentFailed, message).with_details(json!({ "invoice_id": invoice_id })))
}

/// The Stripe calls of `change`, each with a key derived from the intent's, decided on the
/// subscription as it is now: a step a crashed attempt already made is either skipped (its
/// effect is visible) or replayed with the same key and body (Stripe's saved answer).
async fn apply(app: &App, stripe: &StripeGateway, org: &Org, change: &Change, key: &str) -> Result<SubscriptionState, Step> {
    let subscription_id = org.stripe_subscription_id.clone().unwrap_or_default();
    let sub = stripe.retrieve_subscription(&subscription_id).await?;
    let release = format!("{key}-release");
    // A change made now carries its code in its own update; one scheduled (or a resume) puts
    // it on the subscription first, so the invoices from then on have it.
    if let Some(code) = change.promotion_code.as_deref().filter(|_| change.kind != ChangeKind::SwitchNow) {
        stripe.apply_promotion_code(&sub.id, code, &format!("{key}-discount")).await?;
    }
    match change.kind {
        ChangeKind::SwitchNow => {
            let price_id = price_of(app, &change.to).map_err(Step::Refused)?;
            let to = PlanItem { price_id: &price_id, quantity: change.to.quantity, promotion_code: change.promotion_code.as_deref() };
            if let Some(schedule) = &sub.schedule_id {
                stripe.release_schedule(schedule, &release).await?;
            }
            if let ChangeOutcome::PaymentFailed { invoice_id } = stripe.change_now(&sub, &to, change.proration_date, key).await? {
                return Err(declined("The card was declined for the prorated amount; the plan was not changed.", invoice_id));
            }
        }
        ChangeKind::AtPeriodEnd => {
            let price_id = price_of(app, &change.to).map_err(Step::Refused)?;
            if sub.cancel_at_period_end {
                stripe.cancel_at_period_end(&sub.id, false, &format!("{key}-resume")).await?;
            }
            let to = PlanItem { price_id: &price_id, quantity: change.to.quantity, promotion_code: None };
            stripe.change_at_period_end(&sub, &to, key).await?;
        }
        ChangeKind::ToFree => {
            // Stripe refuses a cancel on a subscription a schedule manages: release it first.
            if let Some(schedule) = &sub.schedule_id {
                stripe.release_schedule(schedule, &release).await?;
            }
            stripe.cancel_at_period_end(&sub.id, true, key).await?;
        }
        ChangeKind::EndTrial => {
            // A replay after the trial ended has nothing left to do.
            if sub.status == SubscriptionStatus::Trialing
                && let ChangeOutcome::PaymentFailed { invoice_id } = stripe.end_trial_now(&sub.id, key).await?
            {
                return Err(declined("The card was declined for the first period; the trial goes on.", invoice_id));
            }
        }
        ChangeKind::Resume => {
            if let Some(schedule) = &sub.schedule_id {
                stripe.release_schedule(schedule, &release).await?;
            }
            if sub.cancel_at_period_end {
                stripe.cancel_at_period_end(&sub.id, false, key).await?;
            }
        }
    }
    Ok(stripe.retrieve_subscription(&subscription_id).await?)
}

/// How many stuck intents one reconciler run completes, oldest first.
const STUCK_BATCH: i32 = 100;

/// Completes the intents still on orgs (their function died, or Stripe's answer could not be
/// had), oldest first, or `org`'s alone. The orgs whose intent was completed.
pub async fn complete_stuck_intents(app: &App, org: Option<&str>, now: i64) -> Result<Vec<String>, ApiError> {
    let org_ids = match org {
        Some(org_id) => vec![org_id.to_string()],
        None => app.store.orgs_with_intents(STUCK_BATCH).await?,
    };
    let mut completed = Vec::new();
    for org_id in org_ids {
        let Some(org) = app.store.get_org(&org_id).await? else { continue };
        let Some(intent) = org.change_intent.clone() else { continue };
        match complete(app, org, intent, now).await {
            Ok(_) => completed.push(org_id),
            Err(error) => tracing::warn!(org_id, error = error.kind.code(), "a stuck plan change could not be completed yet"),
        }
    }
    Ok(completed)
}
