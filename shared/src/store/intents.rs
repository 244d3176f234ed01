//! Plan-change intents on the org item. Beginning a change writes the intent (which is the
//! org's change lock) and claims its consent in one transaction, before any Stripe write;
//! finishing writes Stripe's result onto the org, drops the intent and records the consent's
//! outcome in one transaction. So a consent is never used without its change recorded, and a
//! change never completes without its consent saying so. Orgs holding an intent are in the
//! sparse index GSI2, oldest first, for the reconciler.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::approvals::{approval_key, state_value};
use super::caps::whole_org_update;
use super::consents::consent_key;
use super::expr::with_expr;
use super::{GSI2, GSI2_PK, INTENTS_PK, Store, StoreError, built, org_key};
use crate::domain::activity::Activity;
use crate::domain::approval::ApprovalState;
use crate::domain::change::IntentClaim;
use crate::domain::org::Org;

/// What became of `begin_change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begun {
    Started,
    /// The org was written since it was read: re-read and decide again.
    OrgChanged,
    /// The consent was used, decided or lapsed first: nothing was written.
    ClaimRefused,
}

/// What became of `finish_change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Written,
    /// The org was written since it was read: re-read (another attempt may have finished it).
    OrgChanged,
}

/// The consent's side of a finished change: whether the change executed, and the answer to
/// record for anyone who asks about that consent later.
#[derive(Debug, Clone, Copy)]
pub struct ClaimOutcome<'a> {
    pub executed: bool,
    pub result: &'a str,
}

impl Store {
    /// Writes `org` (with its new `change_intent`) if its version is still the one read, and
    /// claims the intent's consent, atomically, with the records of `activities` (an approval
    /// decided by this claim).
    pub async fn begin_change(&self, org: &mut Org, now: i64, activities: &[Activity]) -> Result<Begun, StoreError> {
        const OPERATION: &str = "begin_change";
        let claim = org.change_intent.as_ref().and_then(|i| i.claim.clone());
        let claim_item = claim.as_ref().map(|claim| self.claim_update(OPERATION, &org.org_id, claim, now)).transpose()?;
        let outcome = self.write_org_with(OPERATION, org, claim_item, activities).await?;
        Ok(match outcome {
            None => Begun::Started,
            Some(0) => Begun::OrgChanged,
            Some(_) => Begun::ClaimRefused,
        })
    }

    /// Writes `org` (its intent dropped, Stripe's result applied) if its version is still the
    /// one read, and records the outcome on the consent it claimed and the records of what
    /// changed, atomically.
    pub async fn finish_change(
        &self,
        org: &mut Org,
        claim: Option<&IntentClaim>,
        outcome: ClaimOutcome<'_>,
        activities: &[Activity],
    ) -> Result<Finished, StoreError> {
        const OPERATION: &str = "finish_change";
        let claim_item = claim.map(|claim| self.settle_update(OPERATION, claim, outcome)).transpose()?.flatten();
        match self.write_org_with(OPERATION, org, claim_item, activities).await? {
            None => Ok(Finished::Written),
            Some(0) => Ok(Finished::OrgChanged),
            // The consent is not where its claim left it: only a hand edit does that.
            Some(_) => Err(StoreError::Corrupt { operation: OPERATION, problem: "a claimed consent is not in its claimed state".into() }),
        }
    }

    /// Orgs holding a plan-change intent, oldest first (at most `limit`).
    pub async fn orgs_with_intents(&self, limit: i32) -> Result<Vec<String>, StoreError> {
        self.org_ids_in_index("orgs_with_intents", (GSI2, GSI2_PK), INTENTS_PK, limit).await
    }

    /// The whole-org write of `org` (version-conditional), in one transaction with `other` and
    /// the records of `activities`. `None` when written; `Some(i)` for the first item whose
    /// condition failed.
    async fn write_org_with(
        &self,
        operation: &'static str,
        org: &mut Org,
        other: Option<Update>,
        activities: &[Activity],
    ) -> Result<Option<usize>, StoreError> {
        let expected = org.version;
        org.version += 1;
        let written = async {
            let expr = whole_org_update(operation, org, expected, &self.rules)?;
            let (pk, sk) = org_key(&org.org_id);
            let update = with_expr!(self.update_builder((pk, sk)), expr, update);
            let mut items = vec![TransactWriteItem::builder().update(built(operation, update.build())?).build()];
            items.extend(other.map(|update| TransactWriteItem::builder().update(update).build()));
            items.extend(self.activity_puts(operation, activities)?);
            self.transact(operation, items).await
        }
        .await;
        match written {
            Ok(Ok(())) => {
                org.caps_rules = Some(self.rules.fingerprint.clone());
                Ok(None)
            }
            Ok(Err(failed)) => {
                org.version = expected;
                Ok(failed.iter().position(Option::is_some))
            }
            Err(err) => {
                org.version = expected;
                Err(err)
            }
        }
    }

    /// Uses up a pending, unexpired consent: a token becomes used, an approval executing, a
    /// mandate's envelope drawn from.
    fn claim_update(&self, operation: &'static str, org_id: &str, claim: &IntentClaim, now: i64) -> Result<Update, StoreError> {
        let update = match claim {
            IntentClaim::Mandate { draw, .. } => return self.draw_update(operation, org_id, draw, now),
            IntentClaim::Token { token_hash } => self
                .update_builder(consent_key(token_hash))
                .update_expression("SET #state = :to")
                .expression_attribute_values(":to", AttributeValue::S("used".into()))
                .expression_attribute_values(":pending", AttributeValue::S("pending".into())),
            IntentClaim::Approval { id_hash, by } => self
                .update_builder(approval_key(id_hash))
                .update_expression("SET #state = :to, decided_by = :by")
                .expression_attribute_values(":to", state_value(ApprovalState::Executing))
                .expression_attribute_values(":by", AttributeValue::S(by.clone()))
                .expression_attribute_values(":pending", state_value(ApprovalState::Pending)),
        };
        let update = update
            .condition_expression("#state = :pending AND valid_until > :now")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
        built(operation, update.build())
    }

    /// Records what the claimed consent's change came to. A mandate keeps no outcome (its
    /// draw for a change that failed is given back after, see `release_mandate`).
    fn settle_update(&self, operation: &'static str, claim: &IntentClaim, outcome: ClaimOutcome<'_>) -> Result<Option<Update>, StoreError> {
        let update = match claim {
            IntentClaim::Mandate { .. } => return Ok(None),
            IntentClaim::Token { token_hash } => self
                .update_builder(consent_key(token_hash))
                .update_expression("SET #result = :result")
                .expression_attribute_values(":claimed", AttributeValue::S("used".into())),
            IntentClaim::Approval { id_hash, .. } => {
                let state = if outcome.executed { ApprovalState::Approved } else { ApprovalState::Failed };
                self.update_builder(approval_key(id_hash))
                    .update_expression("SET #state = :to, #result = :result")
                    .expression_attribute_values(":to", state_value(state))
                    .expression_attribute_values(":claimed", state_value(ApprovalState::Executing))
            }
        };
        let update = update
            .condition_expression("#state = :claimed")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#result", "result")
            .expression_attribute_values(":result", AttributeValue::S(outcome.result.to_string()));
        built(operation, update.build()).map(Some)
    }
}
