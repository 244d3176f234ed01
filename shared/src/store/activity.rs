//! Activity records (the transactional outbox): written as one more item of the write that
//! makes the change they report, read back newest first for the org's history. The table's
//! stream carries each new record to the publisher (its filter: keys starting `ACTIVITY#`).

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::{Item, Key, PK, SK, Store, StoreError, TTL, built, classify, decode, keyed};
use crate::domain::activity::Activity;

/// The sort-key prefix of activity records (the stream filter of the publisher names it).
pub const ACTIVITY_PREFIX: &str = "ACTIVITY#";

/// How long the history keeps a record.
pub const ACTIVITY_TTL_SECS: i64 = 400 * 86_400;

/// Under the org, in time order: the history is one Query.
fn activity_key(activity: &Activity) -> Key {
    (format!("ORG#{}", activity.org_id), format!("{ACTIVITY_PREFIX}{:012}#{}", activity.occurred_at, activity.id))
}

fn activity_item(operation: &'static str, activity: &Activity) -> Result<Item, StoreError> {
    let mut item = keyed(operation, activity, activity_key(activity))?;
    item.insert(TTL.into(), AttributeValue::N((activity.occurred_at + ACTIVITY_TTL_SECS).to_string()));
    Ok(item)
}

impl Store {
    /// The transaction items that record `activities` (new items: a record is never rewritten).
    pub(super) fn activity_puts(&self, operation: &'static str, activities: &[Activity]) -> Result<Vec<TransactWriteItem>, StoreError> {
        activities
            .iter()
            .map(|activity| {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(activity_item(operation, activity)?))
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
        const OPERATION: &str = "recent_activity";
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(format!("ORG#{org_id}")))
            .expression_attribute_values(":prefix", AttributeValue::S(ACTIVITY_PREFIX.into()))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(|e| classify(OPERATION, e))?;
        out.items.unwrap_or_default().into_iter().map(|item| decode(OPERATION, item)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::{Actor, Event};
    use crate::domain::catalog::Interval;
    use crate::domain::change::Config;

    #[test]
    fn a_record_round_trips_through_its_item_and_sorts_by_time() {
        let to = Config { plan: "pro".into(), interval: Some(Interval::Month), quantity: 2 };
        let mut activity = Activity::new(
            "acme",
            1_700_000_000,
            Actor::Stripe,
            Event::PlanChanged { kind: crate::domain::activity::PlanChangeKind::Stripe, from: Config::free(), to, effective_at: None },
        );
        activity.id = "act_1".into();
        let item = activity_item("t", &activity).unwrap();
        assert_eq!(item[SK].as_s().unwrap(), "ACTIVITY#001700000000#act_1");
        assert_eq!(item["type"].as_s().unwrap(), "billing.plan_changed");
        assert_eq!(decode::<Activity>("t", item).unwrap(), activity);
    }
}
