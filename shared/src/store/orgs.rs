//! Org items, the customer index (GSI1), and the once-markers that make a webhook effect
//! happen exactly once.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::caps::{new_item_attributes, whole_org_update};
use super::credits::ledger_put;
use super::expr::{Expr, with_expr};
use super::{GSI1, GSI1_PK, Item, PK, SK, Store, StoreError, TTL, built, classify, error_code, is_throttling, keyed, org_key, unavailable};
use crate::domain::activity::Activity;
use crate::domain::ledger::LedgerEntry;
use crate::domain::org::Org;

/// How long a processed event id is remembered (Stripe retries for up to 3 days).
pub const EVENT_TTL_SECS: i64 = 30 * 86_400;

/// The markers that make a webhook effect happen once, written with it atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnceMarkers<'a> {
    /// The Stripe event being applied.
    pub event_id: Option<&'a str>,
    /// The payment (a Checkout Session, a PaymentIntent) whose credits are being granted.
    pub credits_payment_id: Option<&'a str>,
    /// The credits that payment grants: recorded in the credits ledger with the grant.
    pub credits_granted: u64,
    /// What the effect changed, recorded with it.
    pub activities: &'a [Activity],
}

/// What became of an `apply_once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Written,
    /// The event was processed before: nothing written.
    DuplicateEvent,
    /// The payment's credits were granted before: nothing written.
    CreditsAlreadyGranted,
}

fn org_item(operation: &'static str, org: &Org) -> Result<Item, StoreError> {
    let mut item = keyed(operation, org, org_key(&org.org_id))?;
    if let Some(customer) = &org.stripe_customer_id {
        item.insert(GSI1_PK.into(), AttributeValue::S(format!("CUS#{customer}")));
    }
    Ok(item)
}

impl Store {
    /// An UpdateItem of the org item, to be given its expression.
    pub(super) fn org_update_request(&self, org_id: &str) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.update_request(org_key(org_id))
    }

    /// Applies `expr` (update and condition) to the org item.
    pub(super) async fn update_org(&self, operation: &'static str, org_id: &str, expr: Expr) -> Result<(), StoreError> {
        with_expr!(self.org_update_request(org_id), expr, update).send().await.map_err(|e| classify(operation, e))?;
        Ok(())
    }

    pub async fn get_org(&self, org_id: &str) -> Result<Option<Org>, StoreError> {
        self.get("get_org", org_key(org_id)).await
    }

    /// Creates the org with its materialised caps; a conflict if it exists already.
    pub async fn create_org(&self, org: &Org) -> Result<(), StoreError> {
        let mut item = org_item("create_org", org)?;
        for (name, value) in new_item_attributes(org, &self.rules) {
            item.insert(name.to_string(), value);
        }
        self.put_new("create_org", item).await
    }

    /// Writes `org` if the stored version is still `org.version`, and bumps the version.
    /// A conflict means somebody else wrote first: re-read and decide again.
    ///
    /// Every field is written except what usage counting owns (`usage`, `usage_period_end`),
    /// so a reservation made since the read is kept and needs no version of its own; the
    /// materialised caps are written with it (see `store::caps`).
    pub async fn save_org(&self, org: &mut Org) -> Result<(), StoreError> {
        let operation = "save_org";
        let expected = org.version;
        org.version += 1;
        let result = async {
            let expr = whole_org_update(operation, org, expected, &self.rules)?;
            self.update_org(operation, &org.org_id, expr).await
        }
        .await;
        match result {
            Ok(_) => {
                org.caps_rules = Some(self.rules.fingerprint.clone());
                Ok(())
            }
            Err(err) => {
                org.version = expected;
                Err(err)
            }
        }
    }

    /// The org whose Stripe customer this is (GSI1, `CUS#<customer>`).
    pub async fn org_id_for_customer(&self, customer_id: &str) -> Result<Option<String>, StoreError> {
        let found = self.org_ids_in_index("org_id_for_customer", (GSI1, GSI1_PK), &format!("CUS#{customer_id}"), 1).await?;
        Ok(found.into_iter().next())
    }

    /// The ids of the org items under `key` in a keys-only index (`(index, its key attribute)`),
    /// in the index's order, at most `limit`.
    pub(super) async fn org_ids_in_index(
        &self,
        operation: &'static str,
        (index, key_name): (&str, &str),
        key: &str,
        limit: i32,
    ) -> Result<Vec<String>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", key_name)
            .expression_attribute_values(":pk", AttributeValue::S(key.to_string()))
            .limit(limit)
            .send()
            .await
            .map_err(|e| classify(operation, e))?;
        let org_id = |item: &Item| item.get(PK).and_then(|v| v.as_s().ok()).and_then(|pk| pk.strip_prefix("ORG#")).map(str::to_string);
        Ok(out.items.unwrap_or_default().iter().filter_map(org_id).collect())
    }

    /// Whether a Stripe event was applied already (a cheap early exit; `apply_once` decides).
    pub async fn event_seen(&self, event_id: &str) -> Result<bool, StoreError> {
        let item: Option<serde_json::Value> = self.get("event_seen", (format!("EVENT#{event_id}"), "EVENT".into())).await?;
        Ok(item.is_some())
    }

    /// Writes `org` (conditional on the version read) together with the markers, in one
    /// transaction: either the effect and its markers are durable, or nothing is.
    pub async fn apply_once(&self, org: &mut Org, markers: OnceMarkers<'_>, now: i64) -> Result<Applied, StoreError> {
        let operation = "apply_once";
        let expected = org.version;
        org.version += 1;
        let (pk, sk) = org_key(&org.org_id);
        let org_update = match whole_org_update(operation, org, expected, &self.rules) {
            Ok(expr) => with_expr!(
                Update::builder().table_name(&self.table).key(PK, AttributeValue::S(pk)).key(SK, AttributeValue::S(sk)),
                expr,
                update
            )
            .build(),
            Err(err) => {
                org.version = expected;
                return Err(err);
            }
        };
        // Event ids are remembered for a while; a credits grant forever (the success-page sync
        // can ask about an old session at any time).
        let marker = |pk: String, sk: &str, expires: bool| {
            let put = Put::builder()
                .table_name(&self.table)
                .item(PK, AttributeValue::S(pk))
                .item(SK, AttributeValue::S(sk.into()))
                .item("org_id", AttributeValue::S(org.org_id.clone()))
                .condition_expression("attribute_not_exists(PK)");
            let put = if expires { put.item(TTL, AttributeValue::N((now + EVENT_TTL_SECS).to_string())) } else { put };
            built(operation, put.build())
        };
        let org_update = match built(operation, org_update) {
            Ok(update) => update,
            Err(err) => {
                org.version = expected;
                return Err(err);
            }
        };
        let mut items = vec![TransactWriteItem::builder().update(org_update).build()];
        if let Some(event_id) = markers.event_id {
            items.push(TransactWriteItem::builder().put(marker(format!("EVENT#{event_id}"), "EVENT", true)?).build());
        }
        if let Some(payment_id) = markers.credits_payment_id {
            items.push(TransactWriteItem::builder().put(marker(format!("CREDITS#{payment_id}"), "CREDITS", false)?).build());
            if markers.credits_granted > 0 {
                let entry = LedgerEntry::grant(org.version, markers.credits_granted, org.credits, payment_id, now);
                items.push(TransactWriteItem::builder().put(ledger_put(self, &org.org_id, &entry)?).build());
            }
        }
        items.extend(self.activity_puts(operation, markers.activities)?);
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let Err(err) = result else {
            org.caps_rules = Some(self.rules.fingerprint.clone());
            return Ok(Applied::Written);
        };
        org.version = expected;
        let reasons: Vec<Option<String>> = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                e.cancellation_reasons().iter().map(|r| r.code().map(str::to_string)).collect()
            }
            _ => Vec::new(),
        };
        let failed = |i: usize| reasons.get(i).and_then(Option::as_deref) == Some("ConditionalCheckFailed");
        let credits_index = 1 + usize::from(markers.event_id.is_some());
        // Another transaction on the same items in flight: as good as a lost race, retry.
        let contended = reasons.iter().any(|r| r.as_deref() == Some("TransactionConflict"));
        if markers.event_id.is_some() && failed(1) {
            Ok(Applied::DuplicateEvent)
        } else if markers.credits_payment_id.is_some() && failed(credits_index) {
            Ok(Applied::CreditsAlreadyGranted)
        } else if failed(0) || contended {
            Err(StoreError::Conflict { operation })
        } else {
            let code = reasons.iter().flatten().map(String::as_str).find(|code| is_throttling(code)).or(error_code(&err));
            Err(unavailable(operation, code, &err))
        }
    }
}
