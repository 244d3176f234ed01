//! Approval items (web-mode consent): stored under the SHA-256 of the approval id
//! (`APPROVAL#<hash>`), so the table never holds the id a URL carries. Every change of state is
//! a conditional write, so an approval is decided, and its change executed, exactly once.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::{Key, Store, StoreError, TTL, built, classify, decode, keyed, org_key};
use crate::domain::activity::Activity;
use crate::domain::approval::{APPROVAL_TTL_SECS, ApprovalState, BINDING_CODE_LEN, POLL_INTERVAL_SECS, binding_code};
use crate::domain::change::Change;
use crate::domain::ids::{hash, random_bytes, random_hex};
use crate::domain::mandate::{Mandate, MandateAsk};
use crate::domain::org::Org;
use crate::domain::principal::Principal;

/// How long after its expiry an approval is kept, so a late poller is told what became of it.
const KEEP_SECS: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// Hex SHA-256 of the approval id.
    pub id_hash: String,
    pub org_id: String,
    /// The AGENT that asked.
    pub principal_id: String,
    /// Its API key (none on approvals asked before keys were named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// `upgrade`, `downgrade` or `mandate`.
    pub action: String,
    /// The hash of the resolved parameters it is for.
    pub params: String,
    /// The org's `change_generation` the change was computed from.
    pub generation: u64,
    /// The plan change shown to the human, executed as it is if approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// Or the mandate an agent asks for, granted as it is if approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandate: Option<MandateAsk>,
    /// The sentence the human approves.
    pub message: String,
    pub binding_code: String,
    pub created_at: i64,
    pub valid_until: i64,
    pub state: ApprovalState,
    /// RFC 8628 polling: the current interval and when the next poll is welcome.
    pub interval: i64,
    pub next_poll_at: i64,
    /// The HUMAN who approved or denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// The answer of the executed change (or its error envelope), as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// 128 random bits.
const ID_BYTES: usize = 16;

impl ApprovalRecord {
    /// A new pending approval that `agent` asks of the humans of `org`: its id (`ap_...`, shown
    /// once, in links) and the record, which keeps only its hash. The caller sets what it is
    /// for (`change` or `mandate`).
    pub fn ask(agent: &Principal, org: &Org, action: &str, params: &str, message: String, now: i64) -> (String, Self) {
        let id = format!("ap_{}", random_hex(ID_BYTES));
        let record = Self {
            id_hash: hash(&id),
            org_id: org.org_id.clone(),
            principal_id: agent.principal_id.clone(),
            key_id: Some(agent.key_id.clone()),
            action: action.to_string(),
            params: params.to_string(),
            generation: org.change_generation,
            change: None,
            mandate: None,
            message,
            binding_code: binding_code(&random_bytes(BINDING_CODE_LEN)),
            created_at: now,
            valid_until: now + APPROVAL_TTL_SECS,
            state: ApprovalState::Pending,
            interval: POLL_INTERVAL_SECS,
            next_poll_at: now,
            decided_by: None,
            result: None,
        };
        (id, record)
    }
}

pub(super) fn approval_key(id_hash: &str) -> Key {
    (format!("APPROVAL#{id_hash}"), "APPROVAL".to_string())
}

pub(super) fn state_value(state: ApprovalState) -> AttributeValue {
    let text = serde_json::to_value(state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    AttributeValue::S(text)
}

impl Store {
    /// Stores a new approval with the record of its request, atomically.
    pub async fn put_approval(&self, approval: &ApprovalRecord, requested: &Activity) -> Result<(), StoreError> {
        const OPERATION: &str = "put_approval";
        let mut item = keyed(OPERATION, approval, approval_key(&approval.id_hash))?;
        item.insert(TTL.into(), AttributeValue::N((approval.valid_until + KEEP_SECS).to_string()));
        let put = Put::builder().table_name(&self.table).set_item(Some(item)).condition_expression("attribute_not_exists(PK)");
        let mut items = vec![TransactWriteItem::builder().put(built(OPERATION, put.build())?).build()];
        items.extend(self.activity_puts(OPERATION, std::slice::from_ref(requested))?);
        self.transact(OPERATION, items).await?.map_err(|_| StoreError::Conflict { operation: OPERATION })
    }

    pub async fn get_approval(&self, id_hash: &str) -> Result<Option<ApprovalRecord>, StoreError> {
        self.get("get_approval", approval_key(id_hash)).await
    }

    /// The approval and the org it would belong to, in one round trip.
    pub async fn get_approval_and_org(&self, id_hash: &str, org_id: &str) -> Result<(Option<ApprovalRecord>, Option<Org>), StoreError> {
        const OPERATION: &str = "get_approval_and_org";
        let mut items = self.get_many(OPERATION, &[approval_key(id_hash), org_key(org_id)]).await?.into_iter();
        let approval = items.next().flatten().map(|item| decode(OPERATION, item)).transpose()?;
        let org = items.next().flatten().map(|item| decode(OPERATION, item)).transpose()?;
        Ok((approval, org))
    }

    /// Records a poll on time: the next one is welcome from `next_poll_at`. A conflict when
    /// another poll got there first (the caller answers `slow_down`).
    pub async fn record_poll(&self, id_hash: &str, seen_next_poll_at: i64, next_poll_at: i64) -> Result<(), StoreError> {
        self.update_request(approval_key(id_hash))
            .update_expression("SET next_poll_at = :next")
            .condition_expression("next_poll_at = :seen")
            .expression_attribute_values(":next", AttributeValue::N(next_poll_at.to_string()))
            .expression_attribute_values(":seen", AttributeValue::N(seen_next_poll_at.to_string()))
            .send()
            .await
            .map_err(|e| classify("record_poll", e))?;
        Ok(())
    }

    /// Records a poll too early: the interval grows (once per poll: a conflict when a
    /// concurrent poll raised it first, which the caller may ignore).
    pub async fn slow_poller_down(&self, id_hash: &str, seen_interval: i64, interval: i64, next_poll_at: i64) -> Result<(), StoreError> {
        self.update_request(approval_key(id_hash))
            .update_expression("SET #interval = :interval, next_poll_at = :next")
            .condition_expression("#interval = :seen")
            .expression_attribute_names("#interval", "interval")
            .expression_attribute_values(":interval", AttributeValue::N(interval.to_string()))
            .expression_attribute_values(":next", AttributeValue::N(next_poll_at.to_string()))
            .expression_attribute_values(":seen", AttributeValue::N(seen_interval.to_string()))
            .send()
            .await
            .map_err(|e| classify("slow_poller_down", e))?;
        Ok(())
    }

    /// Approves a pending, unexpired mandate request as `by` and grants `mandate` (replacing the
    /// key's current one), with the records of both, atomically; `false` when the request was
    /// decided (or lapsed) first and nothing was written.
    pub async fn approve_mandate_request(
        &self,
        id_hash: &str,
        by: &str,
        result: &str,
        mandate: &Mandate,
        activities: &[Activity],
        now: i64,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "approve_mandate_request";
        let update = self
            .update_builder(approval_key(id_hash))
            .update_expression("SET #state = :to, decided_by = :by, #result = :result")
            .condition_expression("#state = :pending AND valid_until > :now")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#result", "result")
            .expression_attribute_values(":to", state_value(ApprovalState::Approved))
            .expression_attribute_values(":by", AttributeValue::S(by.to_string()))
            .expression_attribute_values(":result", AttributeValue::S(result.to_string()))
            .expression_attribute_values(":pending", state_value(ApprovalState::Pending))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
        let mut items = vec![TransactWriteItem::builder().update(built(OPERATION, update.build())?).build()];
        items.push(TransactWriteItem::builder().put(self.mandate_put(OPERATION, mandate, None)?).build());
        items.extend(self.activity_puts(OPERATION, activities)?);
        Ok(self.transact(OPERATION, items).await?.is_ok())
    }

    /// Moves a pending, unexpired approval to `to` as decided by `by`; a conflict if it was
    /// decided (or lapsed) first, so of two decisions exactly one counts. (Approving goes
    /// through `begin_change`, which claims it with its change's intent.) With the record of
    /// the decision, atomically.
    pub async fn decide_approval(
        &self,
        id_hash: &str,
        to: ApprovalState,
        by: &str,
        now: i64,
        decided: &Activity,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "decide_approval";
        let update = self
            .update_builder(approval_key(id_hash))
            .update_expression("SET #state = :to, decided_by = :by")
            .condition_expression("#state = :pending AND valid_until > :now")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":to", state_value(to))
            .expression_attribute_values(":by", AttributeValue::S(by.to_string()))
            .expression_attribute_values(":pending", state_value(ApprovalState::Pending))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
        let mut items = vec![TransactWriteItem::builder().update(built(OPERATION, update.build())?).build()];
        items.extend(self.activity_puts(OPERATION, std::slice::from_ref(decided))?);
        self.transact(OPERATION, items).await?.map_err(|_| StoreError::Conflict { operation: OPERATION })
    }
}
