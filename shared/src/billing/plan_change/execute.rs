//! Executing a plan change at Stripe, once: the org's change lock, the consent's claim, the
//! Stripe calls for each kind of change, and Stripe's new state written back.

use serde_json::{Value, json};

use super::{Change, Kind, approval, change_in_progress, consent, price_of, status, with_billing};
use crate::App;
use crate::billing::load_org;
use crate::domain::org::Org;
use crate::domain::subscription::{SubscriptionState, apply_subscription};
use crate::error::{ApiError, ErrorKind};
use crate::retry::{Policy, retry};
use crate::stripe::{ChangeOutcome, PlanItem};

/// How long an executing change holds the org; a crashed execution frees it after this.
const LOCK_SECS: i64 = 60;

/// The consent an execution uses up: a chat token or a web approval (hashed), and who decided.
#[derive(Debug, Clone, Copy)]
pub(super) enum Claim<'a> {
    Token(&'a str),
    Approval { id_hash: &'a str, by: &'a str },
}

impl Claim<'_> {
    async fn take(self, app: &App, now: i64) -> Result<(), ApiError> {
        match self {
            Self::Token(token_hash) => consent::claim(app, token_hash, now).await,
            Self::Approval { id_hash, by } => approval::claim(app, id_hash, by, now).await,
        }
    }

    /// The answer when the plan changed since the consent was computed.
    fn stale(self) -> ApiError {
        match self {
            Self::Token(_) => {
                consent::invalid_token("mismatch", "The plan changed since this confirmation was given; nothing was changed. Ask again.")
            }
            Self::Approval { .. } => approval::void(),
        }
    }
}

/// A change that did not execute, and whether its consent was used up on the way.
#[derive(Debug)]
pub(super) struct Failure {
    pub error: ApiError,
    pub claimed: bool,
}

impl Failure {
    fn before_claim(error: impl Into<ApiError>) -> Self {
        Self { error: error.into(), claimed: false }
    }
}

/// Executes `change` once: takes the org's change lock (refusing a consent computed for an
/// older plan), claims the consent if there is one, makes the Stripe calls, then writes
/// Stripe's new state onto the org, bumps its generation and frees the lock.
pub(super) async fn execute(
    app: &App,
    org_id: &str,
    change: &Change,
    generation: u64,
    claim: Option<Claim<'_>>,
    key: &str,
    now: i64,
) -> Result<Value, Failure> {
    let stripe = app.stripe().map_err(Failure::before_claim)?;
    let org = retry(Policy::WRITE_RACE, "lock_plan_change", |_| async {
        let mut org = load_org(&app.store, org_id).await?;
        if org.change_lock_until.is_some_and(|until| until > now) {
            return Err(change_in_progress().into());
        }
        if org.change_generation != generation {
            return Err(claim.map_or_else(ApiError::contended, Claim::stale).into());
        }
        org.change_lock_until = Some(now + LOCK_SECS);
        app.store.save_org(&mut org).await?;
        Ok(org)
    })
    .await
    .map_err(Failure::before_claim)?;
    if let Some(claim) = claim
        && let Err(err) = claim.take(app, now).await
    {
        unlock(app, org_id, None, now).await.map_err(Failure::before_claim)?;
        return Err(Failure::before_claim(err));
    }
    let claimed = claim.is_some();
    let fresh = match apply(app, stripe, &org, change, key).await {
        Ok(fresh) => fresh,
        Err(error) => {
            unlock(app, org_id, None, now).await.map_err(|error| Failure { error, claimed })?;
            return Err(Failure { error, claimed });
        }
    };
    let org = unlock(app, org_id, Some(&fresh), now).await.map_err(|error| Failure { error, claimed })?;
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

/// The Stripe calls of `change`; Stripe's subscription as it is afterwards.
async fn apply(
    app: &App,
    stripe: &crate::stripe::StripeGateway,
    org: &Org,
    change: &Change,
    key: &str,
) -> Result<SubscriptionState, ApiError> {
    let subscription_id = org.stripe_subscription_id.clone().unwrap_or_default();
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
    Ok(stripe.retrieve_subscription(&subscription_id).await?)
}

/// Frees the change lock; with Stripe's new state, also writes it and voids older consents.
async fn unlock(app: &App, org_id: &str, fresh: Option<&SubscriptionState>, now: i64) -> Result<Org, ApiError> {
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
