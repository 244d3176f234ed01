//! Limit-increase signals. Every stored signal is in one partition (`SIGNALS`, sort key
//! starting with the time), so the admin's report reads all of them since a date with one
//! Query; signals are stored at most once a minute per principal and kind, far below what one
//! partition takes. Per org and kind a demand item holds the org's count of requests and each
//! principal's last stored signal with the burst counted on it, so a repeat is one conditional
//! UpdateItem with no read before it.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::expr::{Expr, with_expr};
use super::{Key, PK, SK, Store, StoreError, built, classify, decode, keyed, org_key};
use crate::domain::activity::Activity;
use crate::domain::org::Org;
use crate::domain::signals::{BURST_WINDOW_SECS, LastSignal, Signal};

const SIGNALS_PK: &str = "SIGNALS";
const COUNT: &str = "count";
const LAST: &str = "last";

/// An org's requests of one kind: how many, and each principal's last stored signal.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Demand {
    pub count: u64,
    /// By principal id.
    #[serde(default)]
    pub last: BTreeMap<String, LastSignal>,
}

/// What became of a request counted as a repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repeat {
    /// Counted on the principal's last stored signal: its id and the org's count now.
    Counted { signal_id: String, count: u64 },
    /// The principal has no stored signal of the kind within the burst window: the demand as
    /// it was (`None`: the org has none of the kind yet).
    NotInBurst(Option<Demand>),
}

pub fn signal_sk(signal: &Signal) -> String {
    format!("{:012}#{}#{}", signal.created_at.max(0), signal.org_id, signal.signal_id)
}

fn demand_key(org_id: &str, kind: &str) -> Key {
    (format!("ORG#{org_id}"), format!("SIGNALS#{kind}"))
}

impl Store {
    /// Counts a request on the principal's last stored signal of the kind if it was stored
    /// within the burst window: one conditional UpdateItem.
    pub async fn count_repeat(&self, org_id: &str, kind: &str, principal_id: &str, now: i64) -> Result<Repeat, StoreError> {
        let operation = "count_signal_repeat";
        let mut e = Expr::new();
        let (count, at) = (e.path(&[COUNT]), e.path(&[LAST, principal_id, "at"]));
        let (repeats, last_at) = (e.path(&[LAST, principal_id, "repeats"]), e.path(&[LAST, principal_id, "last_at"]));
        let (one, now, window_start) = (e.num(1), e.num(now), e.num(now - BURST_WINDOW_SECS));
        e.set(format!("{count} = {count} + {one}"));
        e.set(format!("{repeats} = {repeats} + {one}"));
        e.set(format!("{last_at} = {now}"));
        e.condition(format!("{at} > {window_start}"));
        let request = with_expr!(self.update_request(demand_key(org_id, kind)), e, update)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match request.send().await {
            Ok(out) => {
                let demand: Demand = decode(operation, out.attributes.unwrap_or_default())?;
                let last = demand.last.get(principal_id).ok_or_else(|| StoreError::Corrupt {
                    operation,
                    problem: format!("the demand item of `{org_id}` has no last signal of `{principal_id}`"),
                })?;
                Ok(Repeat::Counted { signal_id: last.signal_id.clone(), count: demand.count })
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => match failed.item.clone() {
                    Some(item) if !item.is_empty() => Ok(Repeat::NotInBurst(Some(decode(operation, item)?))),
                    _ => Ok(Repeat::NotInBurst(None)),
                },
                _ => Err(classify(operation, err)),
            },
        }
    }

    /// Stores a new signal, counts it and makes it the principal's last, in one transaction,
    /// if the org's demand is still as read (`read`); the principal's previous signal gets the
    /// burst counted on it. False when the demand changed: read again.
    pub async fn record_signal(&self, signal: &Signal, read: Option<&Demand>, requested: &Activity) -> Result<bool, StoreError> {
        let operation = "record_signal";
        let sk = signal_sk(signal);
        let signal_item = keyed(operation, signal, (SIGNALS_PK.to_string(), sk.clone()))?;
        let signal_put = built(operation, Put::builder().table_name(&self.table).set_item(Some(signal_item)).build())?;

        let mut demand = read.cloned().unwrap_or_default();
        demand.count += 1;
        let previous = demand.last.insert(signal.principal_id.clone(), LastSignal::of(signal, sk));
        let demand_item = keyed(operation, &demand, demand_key(&signal.org_id, &signal.kind))?;
        let mut e = Expr::new();
        match read {
            Some(read) => {
                let (count, expected) = (e.path(&[COUNT]), e.num(read.count));
                e.condition(format!("{count} = {expected}"));
            }
            None => {
                let pk = e.path(&[PK]);
                e.condition(format!("attribute_not_exists({pk})"));
            }
        }
        let demand_put =
            built(operation, with_expr!(Put::builder().table_name(&self.table).set_item(Some(demand_item)), e, condition).build())?;

        let mut items = vec![TransactWriteItem::builder().put(signal_put).build(), TransactWriteItem::builder().put(demand_put).build()];
        if let Some(previous) = previous {
            items.push(TransactWriteItem::builder().update(self.burst_update(operation, &previous)?).build());
        }
        items.extend(self.activity_puts(operation, std::slice::from_ref(requested))?);
        Ok(self.transact(operation, items).await?.is_ok())
    }

    /// Writes the burst counted on a signal onto its item.
    fn burst_update(&self, operation: &'static str, last: &LastSignal) -> Result<Update, StoreError> {
        let mut e = Expr::new();
        let (pk, repeats, last_at) = (e.path(&[PK]), e.path(&["repeats"]), e.path(&["last_at"]));
        let (n, at) = (e.num(last.repeats), e.num(last.last_at));
        e.set(format!("{repeats} = {n}"));
        e.set(format!("{last_at} = {at}"));
        e.condition(format!("attribute_exists({pk})"));
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(SIGNALS_PK.to_string()))
            .key(SK, AttributeValue::S(last.signal_sk.clone()));
        built(operation, with_expr!(update, e, update).build())
    }

    /// Every signal stored since `since` (epoch seconds), of `kind` if given, oldest first.
    pub async fn signals_since(&self, kind: Option<&str>, since: i64) -> Result<Vec<Signal>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk >= :since")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(SIGNALS_PK.to_string()))
            .expression_attribute_values(":since", AttributeValue::S(format!("{:012}", since.max(0))));
        if let Some(kind) = kind {
            query = query
                .filter_expression("#kind = :kind")
                .expression_attribute_names("#kind", "kind")
                .expression_attribute_values(":kind", AttributeValue::S(kind.to_string()));
        }
        self.query_all("signals_since", query).await
    }

    /// The orgs of `org_ids` that exist, and the demand of each `(org, kind)` pair that has
    /// one: BatchGetItem, 100 keys at a time.
    pub async fn orgs_and_demands(&self, org_ids: &[String], pairs: &[(String, String)]) -> Result<(Vec<Org>, Vec<Demand>), StoreError> {
        let operation = "orgs_and_demands";
        let keys: Vec<Key> =
            org_ids.iter().map(|id| org_key(id)).chain(pairs.iter().map(|(org_id, kind)| demand_key(org_id, kind))).collect();
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            items.extend(self.get_many(operation, chunk).await?);
        }
        let demands = items.split_off(org_ids.len());
        let orgs = items.into_iter().flatten().map(|item| decode(operation, item)).collect::<Result<_, _>>()?;
        let demands = demands.into_iter().flatten().map(|item| decode(operation, item)).collect::<Result<_, _>>()?;
        Ok((orgs, demands))
    }
}
