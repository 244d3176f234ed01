//! Activity records (the transactional outbox): written as one more item of the write that
//! makes the change they report, read back newest first for the org's history. The table's
//! stream carries each new record to the publisher (its filter: keys starting `ACTIVITY#`).
//! A record of an API key's action is also in the sparse index GSI3 under that key, so the
//! history of one key (all an AGENT sees) is one Query too.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::{GSI3, GSI3_PK, GSI3_SK, Item, Key, PK, SK, Store, StoreError, TTL, built, classify, decode, keyed};
use crate::domain::activity::Activity;

/// The sort-key prefix of activity records (the stream filter of the publisher names it).
pub const ACTIVITY_PREFIX: &str = "ACTIVITY#";

/// The most records one page of the history holds.
pub const ACTIVITY_PAGE_MAX: i32 = 100;

/// Under the org, in time order: the history is one Query.
fn activity_key(org_id: &str, occurred_at: i64, id: &str) -> Key {
    (format!("ORG#{org_id}"), format!("{ACTIVITY_PREFIX}{occurred_at:012}#{id}"))
}

/// The partition of one API key's records in GSI3.
fn actor_partition(org_id: &str, key_id: &str) -> String {
    format!("ACTOR#{org_id}#{key_id}")
}

fn activity_item(operation: &'static str, activity: &Activity, retention_secs: i64) -> Result<Item, StoreError> {
    let (pk, sk) = activity_key(&activity.org_id, activity.occurred_at, &activity.id);
    let mut item = keyed(operation, activity, (pk, sk.clone()))?;
    if let Some(key_id) = activity.actor.key_id() {
        item.insert(GSI3_PK.into(), AttributeValue::S(actor_partition(&activity.org_id, key_id)));
        item.insert(GSI3_SK.into(), AttributeValue::S(sk));
    }
    item.insert(TTL.into(), AttributeValue::N((activity.occurred_at + retention_secs).to_string()));
    Ok(item)
}

/// One page of an org's history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityPage {
    pub records: Vec<Activity>,
    pub has_more: bool,
}

/// Which records a page reads, and from after which one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityFilter<'a> {
    pub org_id: &'a str,
    /// Only this API key's records.
    pub key_id: Option<&'a str>,
    /// The `(occurred_at, id)` of the last record of the previous page.
    pub after: Option<(i64, &'a str)>,
}

impl Store {
    /// The transaction items that record `activities` (new items: a record is never rewritten).
    pub(super) fn activity_puts(&self, operation: &'static str, activities: &[Activity]) -> Result<Vec<TransactWriteItem>, StoreError> {
        activities
            .iter()
            .map(|activity| {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(activity_item(operation, activity, self.activity_retention_secs)?))
                    .condition_expression("attribute_not_exists(PK)");
                Ok(TransactWriteItem::builder().put(built(operation, put.build())?).build())
            })
            .collect()
    }

    /// Records an activity that is reported once per `once` key (kept until `keep_until`, epoch
    /// seconds): a refusal at a cap once a minute, a usage threshold once a period. The marker
    /// and the record are one transaction. Whether it was recorded (false: reported already).
    pub async fn record_activity_once(&self, activity: &Activity, once: &str, keep_until: i64) -> Result<bool, StoreError> {
        const OPERATION: &str = "record_activity_once";
        let (pk, sk) = (format!("ONCE#{once}"), "ONCE".to_string());
        // A client looping at a cap is refused many times a minute: a read tells the repeats
        // apart, where a transaction failing its condition would still be billed write units.
        if self.get::<serde::de::IgnoredAny>(OPERATION, (pk.clone(), sk.clone())).await?.is_some() {
            return Ok(false);
        }
        let marker = Put::builder()
            .table_name(&self.table)
            .item(PK, AttributeValue::S(pk))
            .item(SK, AttributeValue::S(sk))
            .item(TTL, AttributeValue::N(keep_until.to_string()))
            .condition_expression("attribute_not_exists(PK)");
        let mut items = vec![TransactWriteItem::builder().put(built(OPERATION, marker.build())?).build()];
        items.extend(self.activity_puts(OPERATION, std::slice::from_ref(activity))?);
        Ok(self.transact(OPERATION, items).await?.is_ok())
    }

    /// The org's newest activity records, newest first (at most `limit`).
    pub async fn recent_activity(&self, org_id: &str, limit: i32) -> Result<Vec<Activity>, StoreError> {
        Ok(self.activity_page(ActivityFilter { org_id, key_id: None, after: None }, limit).await?.records)
    }

    /// A page of the org's history (or of one key's), newest first: one Query, of the table or,
    /// for one key, of GSI3. It asks one more than `limit` to tell whether more follow.
    pub async fn activity_page(&self, filter: ActivityFilter<'_>, limit: i32) -> Result<ActivityPage, StoreError> {
        const OPERATION: &str = "activity_page";
        let limit = limit.clamp(1, ACTIVITY_PAGE_MAX);
        let (pk, _) = activity_key(filter.org_id, 0, "");
        let (partition, value) = match filter.key_id {
            Some(key_id) => (GSI3_PK, actor_partition(filter.org_id, key_id)),
            None => (PK, pk.clone()),
        };
        let sort = if filter.key_id.is_some() { GSI3_SK } else { SK };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", partition)
            .expression_attribute_names("#sk", sort)
            .expression_attribute_values(":pk", AttributeValue::S(value.clone()))
            .expression_attribute_values(":prefix", AttributeValue::S(ACTIVITY_PREFIX.into()))
            .scan_index_forward(false)
            .limit(limit + 1);
        query = match filter.key_id {
            Some(_) => query.index_name(GSI3),
            None => query.consistent_read(true),
        };
        if let Some((occurred_at, id)) = filter.after {
            let (_, sk) = activity_key(filter.org_id, occurred_at, id);
            query = query.exclusive_start_key(PK, AttributeValue::S(pk)).exclusive_start_key(SK, AttributeValue::S(sk.clone()));
            if filter.key_id.is_some() {
                query = query.exclusive_start_key(GSI3_PK, AttributeValue::S(value)).exclusive_start_key(GSI3_SK, AttributeValue::S(sk));
            }
        }
        let out = query.send().await.map_err(|e| classify(OPERATION, e))?;
        let mut records: Vec<Activity> =
            out.items.unwrap_or_default().into_iter().map(|item| decode(OPERATION, item)).collect::<Result<_, _>>()?;
        let has_more = records.len() > limit as usize;
        records.truncate(limit as usize);
        Ok(ActivityPage { records, has_more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::Event;
    use crate::domain::catalog::Interval;
    use crate::domain::change::PlanConfig;
    use crate::domain::principal::Actor;

    #[test]
    fn a_record_round_trips_through_its_item_and_sorts_by_time() {
        let to = PlanConfig { plan: "pro".into(), interval: Some(Interval::Month), quantity: 2 };
        let mut activity = Activity::new(
            "acme",
            1_700_000_000,
            Actor::Stripe,
            Event::PlanChanged { kind: crate::domain::activity::PlanChangeKind::Stripe, from: PlanConfig::free(), to, effective_at: None },
            None,
        );
        activity.id = "act_1".into();
        let item = activity_item("t", &activity, 86_400).unwrap();
        assert_eq!(item[SK].as_s().unwrap(), "ACTIVITY#001700000000#act_1");
        assert_eq!(item[TTL].as_n().unwrap(), "1700086400", "kept for the retention");
        assert!(!item.contains_key(GSI3_PK), "Stripe's records are under no key");
        assert_eq!(item["type"].as_s().unwrap(), "billing.plan_changed");
        assert_eq!(decode::<Activity>("t", item).unwrap(), activity);
    }
}
