//! Usage counting on the org item: reservations and releases against the materialised caps
//! (see `store::caps` for why this is one conditional write), the `api_calls` period roll-over,
//! and the exact, idempotent variant that keyed requests use.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::caps::{CAPS, CAPS_RULES, CAPS_THEN, CAPS_UNTIL, HEADROOM, HEADROOM_THEN, USAGE, USAGE_PERIOD_END, VERSION, materialise};
use super::expr::{Expr, with_expr};
use super::idempotency::{holder, record_put};
use super::{IdempotencyRecord, PK, SK, Store, StoreError, built, classify, decode, org_key};
use crate::domain::catalog::Resource;
use crate::domain::org::Org;

/// A change of one resource's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delta {
    /// Add this many if the org stays within its cap.
    Reserve(u64),
    /// Take this many off if the org holds at least that many.
    Release(u64),
}

/// What became of a `count_usage`.
#[derive(Debug, Clone, PartialEq)]
pub enum Counted {
    /// Written: the org as it is now.
    Done(Org),
    /// The condition failed: the org as it was (`None`: there is no such org). The caller
    /// tells why (the cap, a stale materialisation, an ended period) from it.
    Refused(Option<Org>),
}

/// An exact change of one resource's stored count, decided on a read of the org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactCount {
    pub resource: Resource,
    /// The stored count read (`None`: no entry yet).
    pub before: Option<u64>,
    pub after: u64,
    /// `api_calls`: the new period's end when this change starts one.
    pub new_period_end: Option<i64>,
}

/// What became of a write decided on a read.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    Done,
    /// The idempotency key was taken by another request: its record (`None` if it expired).
    KeyTaken(Option<IdempotencyRecord>),
    /// The org changed since it was read: read again and decide again.
    Changed,
}

fn org_update(store: &Store, org_id: &str) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    let (pk, sk) = org_key(org_id);
    Update::builder().table_name(&store.table).key(PK, AttributeValue::S(pk)).key(SK, AttributeValue::S(sk))
}

impl Store {
    /// Reserves or releases in ONE conditional UpdateItem, with no read before it. A
    /// reservation is written only if the org's materialised caps are current and, in the phase
    /// `now` falls in, the resource is unlimited or its headroom is at least the count (and for
    /// `api_calls`, the stored period has not ended); a release only if the org holds at least
    /// the count.
    pub async fn count_usage(&self, org_id: &str, resource: Resource, delta: Delta, now: i64) -> Result<Counted, StoreError> {
        let operation = match delta {
            Delta::Reserve(_) => "reserve_usage",
            Delta::Release(_) => "release_usage",
        };
        let mut e = Expr::new();
        let r = resource.as_str();
        let (usage, headroom, headroom_then) = (e.path(&[USAGE, r]), e.path(&[HEADROOM, r]), e.path(&[HEADROOM_THEN, r]));
        let (rules, fingerprint) = (e.path(&[CAPS_RULES]), e.text(self.rules.fingerprint.clone()));
        e.condition(format!("{rules} = {fingerprint}"));
        match delta {
            Delta::Reserve(n) => {
                let (n, zero, now, null) = (e.num(n), e.num(0), e.num(now), e.text("NULL"));
                let (caps, caps_then, until) = (e.path(&[CAPS, r]), e.path(&[CAPS_THEN, r]), e.path(&[CAPS_UNTIL]));
                e.set(format!("{usage} = if_not_exists({usage}, {zero}) + {n}"));
                e.set(format!("{headroom} = {headroom} - {n}"));
                e.set(format!("{headroom_then} = {headroom_then} - {n}"));
                e.condition(format!(
                    "({until} > {now} AND (attribute_type({caps}, {null}) OR {headroom} >= {n})) OR \
                     ({until} <= {now} AND (attribute_type({caps_then}, {null}) OR {headroom_then} >= {n}))"
                ));
                if resource == Resource::ApiCalls {
                    let period = e.path(&[USAGE_PERIOD_END]);
                    e.condition(format!("{period} > {now}"));
                }
            }
            Delta::Release(n) => {
                let n = e.num(n);
                e.set(format!("{usage} = {usage} - {n}"));
                e.set(format!("{headroom} = {headroom} + {n}"));
                e.set(format!("{headroom_then} = {headroom_then} + {n}"));
                e.condition(format!("{usage} >= {n}"));
            }
        }
        let request = with_expr!(self.org_update_request(org_id), e, update)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match request.send().await {
            Ok(out) => Ok(Counted::Done(decode(operation, out.attributes.unwrap_or_default())?)),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => match failed.item.clone() {
                    Some(item) if !item.is_empty() => Ok(Counted::Refused(Some(decode(operation, item)?))),
                    _ => Ok(Counted::Refused(None)),
                },
                _ => Err(classify(operation, err)),
            },
        }
    }

    /// Materialises the org's caps under the current rules, if it is still at the version read
    /// (a `Conflict` otherwise: read again).
    pub async fn refresh_caps(&self, org: &Org) -> Result<(), StoreError> {
        let operation = "refresh_caps";
        let mut e = Expr::new();
        let (version, expected) = (e.path(&[VERSION]), e.num(org.version));
        e.condition(format!("{version} = {expected}"));
        materialise(&mut e, org, &self.rules);
        self.update_org(operation, &org.org_id, e).await
    }

    /// Starts a new `api_calls` period ending at `new_end`: the count goes back to 0 (and its
    /// headroom up by what it was), if the stored period is still the one read.
    pub async fn roll_usage_period(&self, org: &Org, new_end: i64) -> Result<(), StoreError> {
        let operation = "roll_usage_period";
        let mut e = Expr::new();
        let r = Resource::ApiCalls.as_str();
        let (usage, period, zero, end) = (e.path(&[USAGE, r]), e.path(&[USAGE_PERIOD_END]), e.num(0), e.num(new_end));
        for map in [HEADROOM, HEADROOM_THEN] {
            let headroom = e.path(&[map, r]);
            e.set(format!("{headroom} = {headroom} + if_not_exists({usage}, {zero})"));
        }
        e.set(format!("{usage} = {zero}"));
        e.set(format!("{period} = {end}"));
        match org.usage_period_end {
            Some(old) => {
                let old = e.num(old);
                e.condition(format!("{period} = {old}"));
            }
            None => e.condition(format!("attribute_not_exists({period})")),
        }
        self.update_org(operation, &org.org_id, e).await
    }

    /// The keyed variant: writes the count decided on `org` (as read, with current caps) and
    /// the idempotency record of its answer in one transaction, on the condition that the org
    /// is still as read (version, this resource's count, its period) and the key is free.
    pub async fn count_usage_exactly(
        &self,
        org: &Org,
        count: &ExactCount,
        key_hash: &str,
        record: &IdempotencyRecord,
        now: i64,
    ) -> Result<Written, StoreError> {
        let operation = "count_usage_exactly";
        let mut e = Expr::new();
        let r = count.resource.as_str();
        let usage = e.path(&[USAGE, r]);
        let after = e.num(count.after);
        e.set(format!("{usage} = {after}"));
        let change = i128::from(count.before.unwrap_or(0)) - i128::from(count.after);
        let change = e.num(change);
        for map in [HEADROOM, HEADROOM_THEN] {
            let headroom = e.path(&[map, r]);
            e.set(format!("{headroom} = {headroom} + {change}"));
        }
        match count.before {
            Some(before) => {
                let before = e.num(before);
                e.condition(format!("{usage} = {before}"));
            }
            None => e.condition(format!("attribute_not_exists({usage})")),
        }
        let (version, expected) = (e.path(&[VERSION]), e.num(org.version));
        e.condition(format!("{version} = {expected}"));
        let (rules, fingerprint) = (e.path(&[CAPS_RULES]), e.text(self.rules.fingerprint.clone()));
        e.condition(format!("{rules} = {fingerprint}"));
        if count.resource == Resource::ApiCalls {
            let period = e.path(&[USAGE_PERIOD_END]);
            match org.usage_period_end {
                Some(old) => {
                    let old = e.num(old);
                    e.condition(format!("{period} = {old}"));
                }
                None => e.condition(format!("attribute_not_exists({period})")),
            }
            if let Some(end) = count.new_period_end {
                let end = e.num(end);
                e.set(format!("{period} = {end}"));
            }
        }
        let update = built(operation, with_expr!(org_update(self, &org.org_id), e, update).build())?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().put(record_put(self, &org.org_id, key_hash, record, now)?).build(),
        ];
        match self.transact(operation, items).await? {
            Ok(()) => Ok(Written::Done),
            Err(failed) => match failed.into_iter().nth(1).flatten() {
                Some(item) => Ok(Written::KeyTaken(holder(Some(item), now)?)),
                None => Ok(Written::Changed),
            },
        }
    }
}
