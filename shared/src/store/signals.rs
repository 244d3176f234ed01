//! Limit-increase signals: one partition per kind (`SIGNAL#<kind>`, sort key starting with the
//! time, so the admin reads a kind since a date with one Query), and per org a count per kind
//! and each principal's last stored signal (so a burst is counted on it, not stored again).

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::expr::{Expr, with_expr};
use super::orgs::{built, org_key};
use super::{Key, PK, SK, Store, StoreError, classify, decode, keyed};
use crate::domain::org::Org;
use crate::domain::signals::Signal;

/// A principal's last stored signal of a kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredSignal {
    pub signal_id: String,
    /// The signal item's sort key.
    pub signal_sk: String,
    pub at: i64,
}

/// What a new signal is decided on, read in one round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalState {
    pub org: Option<Org>,
    pub last: Option<StoredSignal>,
    /// The org's requests of the kind so far.
    pub count: u64,
}

fn signal_key(kind: &str, sk: &str) -> Key {
    (format!("SIGNAL#{kind}"), sk.to_string())
}

pub fn signal_sk(signal: &Signal) -> String {
    format!("{:012}#{}#{}", signal.created_at.max(0), signal.org_id, signal.signal_id)
}

fn last_key(org_id: &str, kind: &str, principal_id: &str) -> Key {
    (format!("ORG#{org_id}"), format!("SIGLAST#{kind}#{principal_id}"))
}

fn count_key(org_id: &str, kind: &str) -> Key {
    (format!("ORG#{org_id}"), format!("SIGCOUNT#{kind}"))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Count {
    count: u64,
}

impl Store {
    pub async fn signal_state(&self, org_id: &str, kind: &str, principal_id: &str) -> Result<SignalState, StoreError> {
        let operation = "signal_state";
        let keys = [org_key(org_id), last_key(org_id, kind, principal_id), count_key(org_id, kind)];
        let mut items = self.get_many(operation, &keys).await?.into_iter();
        let org = items.next().flatten().map(|item| decode(operation, item)).transpose()?;
        let last = items.next().flatten().map(|item| decode(operation, item)).transpose()?;
        let count = items.next().flatten().map(|item| decode::<Count>(operation, item)).transpose()?.map_or(0, |c| c.count);
        Ok(SignalState { org, last, count })
    }

    /// The Put of the org's new count of a kind, if it is still the count read.
    fn count_put(&self, org_id: &str, kind: &str, read: u64) -> Result<Put, StoreError> {
        let operation = "put_signal_count";
        let item = keyed(operation, &Count { count: read + 1 }, count_key(org_id, kind))?;
        let mut e = Expr::new();
        let (pk, count, read) = (e.path(&[PK]), e.path(&["count"]), e.num(read));
        e.condition(format!("attribute_not_exists({pk}) OR {count} = {read}"));
        built(operation, with_expr!(Put::builder().table_name(&self.table).set_item(Some(item)), e, condition).build())
    }

    /// Stores a new signal, makes it the principal's last and counts it, in one transaction,
    /// if nothing changed since `state` was read. False when something did: read again.
    pub async fn record_signal(&self, signal: &Signal, state: &SignalState) -> Result<bool, StoreError> {
        let operation = "record_signal";
        let sk = signal_sk(signal);
        let signal_item = keyed(operation, signal, signal_key(&signal.kind, &sk))?;
        let signal_put = built(operation, Put::builder().table_name(&self.table).set_item(Some(signal_item)).build())?;
        let last = StoredSignal { signal_id: signal.signal_id.clone(), signal_sk: sk, at: signal.created_at };
        let last_item = keyed(operation, &last, last_key(&signal.org_id, &signal.kind, &signal.principal_id))?;
        let mut e = Expr::new();
        match &state.last {
            Some(read) => {
                let (at, read) = (e.path(&["at"]), e.num(read.at));
                e.condition(format!("{at} = {read}"));
            }
            None => {
                let pk = e.path(&[PK]);
                e.condition(format!("attribute_not_exists({pk})"));
            }
        }
        let last_put =
            built(operation, with_expr!(Put::builder().table_name(&self.table).set_item(Some(last_item)), e, condition).build())?;
        let items = vec![
            TransactWriteItem::builder().put(signal_put).build(),
            TransactWriteItem::builder().put(last_put).build(),
            TransactWriteItem::builder().put(self.count_put(&signal.org_id, &signal.kind, state.count)?).build(),
        ];
        Ok(self.transact(operation, items).await?.is_ok())
    }

    /// Counts a request of a burst on the principal's last stored signal, in one transaction
    /// with the org's count. False when the count changed since it was read: read again.
    pub async fn count_repeat(&self, org_id: &str, kind: &str, last: &StoredSignal, read_count: u64, now: i64) -> Result<bool, StoreError> {
        let operation = "count_signal_repeat";
        let (pk, sk) = signal_key(kind, &last.signal_sk);
        let mut e = Expr::new();
        let (repeats, last_at, one, now) = (e.path(&["repeats"]), e.path(&["last_at"]), e.num(1), e.num(now));
        e.set(format!("{repeats} = {repeats} + {one}"));
        e.set(format!("{last_at} = {now}"));
        let key = e.path(&[PK]);
        e.condition(format!("attribute_exists({key})"));
        let update =
            with_expr!(Update::builder().table_name(&self.table).key(PK, AttributeValue::S(pk)).key(SK, AttributeValue::S(sk)), e, update);
        let items = vec![
            TransactWriteItem::builder().update(built(operation, update.build())?).build(),
            TransactWriteItem::builder().put(self.count_put(org_id, kind, read_count)?).build(),
        ];
        Ok(self.transact(operation, items).await?.is_ok())
    }

    /// Every signal of `kind` stored since `since` (epoch seconds), oldest first.
    pub async fn signals_since(&self, kind: &str, since: i64) -> Result<Vec<Signal>, StoreError> {
        let operation = "signals_since";
        let (pk, _) = signal_key(kind, "");
        let mut signals = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk >= :since")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":since", AttributeValue::S(format!("{:012}", since.max(0))))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify(operation, e))?;
            for item in out.items.unwrap_or_default() {
                signals.push(decode(operation, item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(signals),
            }
        }
    }

    /// The orgs of `org_ids` that exist (BatchGetItem, 100 at a time).
    pub async fn get_orgs(&self, org_ids: &[String]) -> Result<Vec<Org>, StoreError> {
        let operation = "get_orgs";
        let mut orgs = Vec::new();
        for chunk in org_ids.chunks(100) {
            let keys: Vec<Key> = chunk.iter().map(|id| org_key(id)).collect();
            for item in self.get_many(operation, &keys).await?.into_iter().flatten() {
                orgs.push(decode(operation, item)?);
            }
        }
        Ok(orgs)
    }
}
