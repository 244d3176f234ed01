//! Credits: spends written with their ledger entry (and idempotency record) in one
//! transaction, and the ledger read back a page at a time.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::caps::VERSION;
use super::expr::{Expr, with_expr};
use super::idempotency::{holder, record_put};
use super::{IdempotencyRecord, Key, PK, SK, Store, StoreError, Written, built, classify, decode, keyed, org_key};
use crate::domain::activity::Activity;
use crate::domain::ledger::{LedgerEntry, entry_version};
use crate::domain::mandate::Draw;
use crate::domain::org::Org;

/// The most entries one page holds.
pub const LEDGER_PAGE_MAX: i32 = 100;

fn ledger_key(org_id: &str, version: u64) -> Key {
    (format!("LEDGER#{org_id}"), format!("{version:020}"))
}

/// The Put of a new ledger entry (entries are never overwritten).
pub(super) fn ledger_put(store: &Store, org_id: &str, entry: &LedgerEntry) -> Result<Put, StoreError> {
    let operation = "put_ledger_entry";
    let version =
        entry_version(&entry.id).ok_or_else(|| StoreError::Corrupt { operation, problem: format!("`{}` is not an entry id", entry.id) })?;
    let mut item = keyed(operation, entry, ledger_key(org_id, version))?;
    item.insert("org_id".into(), AttributeValue::S(org_id.to_string()));
    built(operation, Put::builder().table_name(&store.table).set_item(Some(item)).condition_expression("attribute_not_exists(PK)").build())
}

/// One page of an org's ledger, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    pub has_more: bool,
}

impl Store {
    /// Writes `org.credits` (already lowered by the spend) and the org's next version, the
    /// spend's ledger entry and, with a key, its idempotency record, in one transaction, if
    /// the org is still at the version read and the key is free; with the records of
    /// `activities` (the balance going low) and an agent's `draw` from its mandate (refused:
    /// `Changed`, to be decided again).
    pub async fn spend_credits(
        &self,
        org: &Org,
        entry: &LedgerEntry,
        idempotency: Option<(&str, &IdempotencyRecord)>,
        activities: &[Activity],
        draw: Option<&Draw>,
        now: i64,
    ) -> Result<Written, StoreError> {
        let operation = "spend_credits";
        let mut e = Expr::new();
        let (credits, balance) = (e.path(&["credits"]), e.num(org.credits));
        let (version, expected, next) = (e.path(&[VERSION]), e.num(org.version), e.num(org.version + 1));
        e.set(format!("{credits} = {balance}"));
        e.set(format!("{version} = {next}"));
        e.condition(format!("{version} = {expected}"));
        let (pk, sk) = org_key(&org.org_id);
        let update =
            with_expr!(Update::builder().table_name(&self.table).key(PK, AttributeValue::S(pk)).key(SK, AttributeValue::S(sk)), e, update);
        let mut items = vec![
            TransactWriteItem::builder().update(built(operation, update.build())?).build(),
            TransactWriteItem::builder().put(ledger_put(self, &org.org_id, entry)?).build(),
        ];
        if let Some((key_hash, record)) = idempotency {
            items.push(TransactWriteItem::builder().put(record_put(self, &org.org_id, key_hash, record, now)?).build());
        }
        items.extend(self.activity_puts(operation, activities)?);
        if let Some(draw) = draw {
            items.push(TransactWriteItem::builder().update(self.draw_update(operation, &org.org_id, draw, now)?).build());
        }
        match self.transact(operation, items).await? {
            Ok(()) => Ok(Written::Done),
            Err(failed) => match failed.into_iter().nth(2).flatten() {
                Some(item) => Ok(Written::KeyTaken(holder(Some(item), now)?)),
                None => Ok(Written::Changed),
            },
        }
    }

    /// Up to `limit` entries, newest first, after the entry `starting_after` (its version).
    pub async fn ledger_page(&self, org_id: &str, limit: i32, starting_after: Option<u64>) -> Result<LedgerPage, StoreError> {
        let operation = "ledger_page";
        let (pk, _) = ledger_key(org_id, 0);
        let limit = limit.clamp(1, LEDGER_PAGE_MAX);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .scan_index_forward(false)
            .consistent_read(true)
            // One more than asked: whether there is more, without an empty last page.
            .limit(limit + 1);
        if let Some(version) = starting_after {
            let (_, sk) = ledger_key(org_id, version);
            query = query.exclusive_start_key(PK, AttributeValue::S(pk)).exclusive_start_key(SK, AttributeValue::S(sk));
        }
        let out = query.send().await.map_err(|e| classify(operation, e))?;
        let mut entries: Vec<LedgerEntry> =
            out.items.unwrap_or_default().into_iter().map(|item| decode(operation, item)).collect::<Result<_, _>>()?;
        let has_more = entries.len() > limit as usize;
        entries.truncate(limit as usize);
        Ok(LedgerPage { entries, has_more })
    }
}
