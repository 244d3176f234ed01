//! Automatic top-up, run from the table's stream (`auto-top-up` in template.yaml, filtered to
//! the records of spends): a spend that takes the balance under the org's level sets off one
//! top-up of the card on file, bought by the AGENT key the setting names, inside its mandate.
//! The spend never waits for it.
//!
//! Once per crossing: the top-up is claimed by the spend's activity id, in one transaction with
//! the month's count, and bought with an idempotency key derived from that id, so a record
//! delivered again replays the first purchase instead of paying twice. The mandate is asked
//! before the claim, so a top-up it does not cover costs none of the month's.

use std::collections::HashMap;

use crate::App;
use crate::billing::idempotency::IdempotencyKey;
use crate::billing::mandates;
use crate::billing::publish::Streamed;
use crate::billing::top_up;
use crate::domain::activity::{Activity, Event};
use crate::domain::ids::hash;
use crate::domain::mandate::MandateUse;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::{ApiError, ErrorKind};
use crate::store::{OrgSettings, TopUpClaim};

/// What became of a spend's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No automatic top-up, or the balance did not cross its level.
    NotSetOff,
    Paid,
    /// The card on file refused (or there is none): nothing was granted.
    Refused,
    /// The named key's mandate does not cover the bundles (or there is no mandate).
    OutsideMandate,
    /// The month's top-ups were used up.
    MonthUsedUp,
    /// The key the setting names is revoked or gone.
    NoAgentKey,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Self::NotSetOff => "not_set_off",
            Self::Paid => "paid",
            Self::Refused => "refused",
            Self::OutsideMandate => "outside_mandate",
            Self::MonthUsedUp => "month_used_up",
            Self::NoAgentKey => "no_agent_key",
        }
    }
}

/// Runs the top-ups the batch's spends set off, in stream order. Answers the sequence numbers
/// to deliver again: from the first record that failed for a reason that may pass (Stripe or
/// DynamoDB unavailable) on. A record that is not a spend's is passed over.
pub async fn on_spends(app: &App, batch: Vec<Streamed>, now: i64) -> Vec<String> {
    let mut settings: HashMap<String, OrgSettings> = HashMap::new();
    for (index, record) in batch.iter().enumerate() {
        let Ok(activity) = serde_dynamo::from_item::<_, Activity>(record.image.clone()) else { continue };
        match after_spend(app, &activity, &mut settings, now).await {
            Ok(Outcome::NotSetOff) => {}
            Ok(outcome) => {
                crate::metrics::auto_top_ups(outcome.name());
                tracing::info!(org_id = %activity.org_id, spend = %activity.id, outcome = outcome.name(), "automatic top-up");
            }
            Err(error) if error.status() >= 500 => {
                tracing::error!(org_id = %activity.org_id, spend = %activity.id, error = %error, "automatic top-up failed; the stream delivers it again");
                return batch[index..].iter().map(|r| r.sequence_number.clone()).collect();
            }
            Err(error) => {
                crate::metrics::auto_top_ups("failed");
                tracing::warn!(org_id = %activity.org_id, spend = %activity.id, error = %error, "automatic top-up refused");
            }
        }
    }
    Vec::new()
}

/// The top-up one spend's record sets off, if any.
async fn after_spend(app: &App, spend: &Activity, settings: &mut HashMap<String, OrgSettings>, now: i64) -> Result<Outcome, ApiError> {
    let Event::CreditsSpent { amount, balance, .. } = spend.event else { return Ok(Outcome::NotSetOff) };
    let org_id = spend.org_id.as_str();
    if !settings.contains_key(org_id) {
        settings.insert(org_id.to_string(), app.store.get_settings(org_id, now).await?);
    }
    let before = balance.saturating_add(i64::try_from(amount).unwrap_or(i64::MAX));
    let Some(setting) = settings.get(org_id).and_then(|s| s.auto_top_up.clone()).filter(|s| s.crossed(before, balance)) else {
        return Ok(Outcome::NotSetOff);
    };
    let key = app.store.get_api_key(&setting.agent_key_id).await?;
    let Some(key) = key.filter(|k| k.org_id == org_id && k.kind == PrincipalKind::Agent && k.revoked_at.is_none()) else {
        return Ok(Outcome::NoAgentKey);
    };
    let principal =
        Principal { org_id: org_id.to_string(), principal_id: key.principal_id, key_id: key.key_id, kind: PrincipalKind::Agent };
    let bundles = u64::from(setting.bundles);
    let action = MandateUse::CreditBundles { bundles, charge: bundles * app.config.catalog.credits.unit_amount };
    let mandate = app.store.get_mandate(org_id, &principal.key_id).await?;
    if mandates::cover(app, mandate.as_ref(), &action, now).is_err() {
        return Ok(Outcome::OutsideMandate);
    }
    if app.store.claim_auto_top_up(org_id, &spend.id, setting.max_per_month, now).await? == TopUpClaim::NotAllowed {
        return Ok(Outcome::MonthUsedUp);
    }
    let key = IdempotencyKey { hash: hash(&format!("auto_top_up:{org_id}:{}", spend.id)) };
    match top_up::buy(app, &principal, setting.bundles, Some(&key), Some(&spend.id), now).await {
        Ok(Ok(_)) => Ok(Outcome::Paid),
        // A racing action drew the envelope between the look and the draw.
        Ok(Err(_)) => Ok(Outcome::OutsideMandate),
        Err(error) if matches!(error.kind, ErrorKind::PaymentFailed) => Ok(Outcome::Refused),
        Err(error) => Err(error),
    }
}
