//! API key items: only the SHA-256 of a key is stored, never the key. Issuing and revoking one
//! each write the org's activity record in the same transaction. The item also carries the
//! brake of an AGENT key (`domain::brake`): the minute being counted, its refusals and the pause,
//! so the authorizer's one read of the key sees the pause. Each key is also in the sparse index
//! GSI3 under its org (`KEYS#<org>`, sorted by kind), so an org's AGENT keys are one Query.

use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};

use super::expr::{Expr, with_expr};
use super::{GSI3, GSI3_PK, GSI3_SK, Key, PK, SK, Store, StoreError, built, classify, decode, error_code, keyed};
use crate::domain::activity::Activity;
use crate::domain::api_key::ApiKeyRecord;
use crate::domain::principal::PrincipalKind;

fn api_key_key(key_id: &str) -> Key {
    (format!("APIKEY#{key_id}"), "APIKEY".to_string())
}

/// The org's keys in GSI3, and the sort-key prefix of one kind's.
fn keys_partition(org_id: &str) -> String {
    format!("KEYS#{org_id}")
}

fn kind_prefix(kind: PrincipalKind) -> String {
    format!("{}#", kind.as_str())
}

impl Store {
    /// Stores a new key with the record of its issue (`issued`), atomically.
    pub async fn put_api_key(&self, record: &ApiKeyRecord, issued: &Activity) -> Result<(), StoreError> {
        const OPERATION: &str = "put_api_key";
        let mut item = keyed(OPERATION, record, api_key_key(&record.key_id))?;
        item.insert(GSI3_PK.into(), AttributeValue::S(keys_partition(&record.org_id)));
        item.insert(GSI3_SK.into(), AttributeValue::S(format!("{}{}", kind_prefix(record.kind), record.key_id)));
        let put = Put::builder().table_name(&self.table).set_item(Some(item)).condition_expression("attribute_not_exists(PK)");
        let mut items = vec![TransactWriteItem::builder().put(built(OPERATION, put.build())?).build()];
        items.extend(self.activity_puts(OPERATION, std::slice::from_ref(issued))?);
        self.transact(OPERATION, items).await?.map_err(|_| StoreError::Conflict { operation: OPERATION })
    }

    pub async fn get_api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get("get_api_key", api_key_key(key_id)).await
    }

    /// Puts every key issued before GSI3 listed keys into it (a Scan of the table, once, by
    /// the operator): answers how many it indexed. A key indexed meanwhile is left as it is.
    pub async fn index_unlisted_keys(&self) -> Result<u64, StoreError> {
        const OPERATION: &str = "index_unlisted_keys";
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(#pk, :prefix) AND attribute_not_exists(#gsi)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#gsi", GSI3_PK)
            .expression_attribute_values(":prefix", AttributeValue::S("APIKEY#".into()));
        let mut indexed = 0;
        let mut start = None;
        loop {
            let out = scan.clone().set_exclusive_start_key(start).send().await.map_err(|e| classify(OPERATION, e))?;
            for item in out.items.unwrap_or_default() {
                let record: ApiKeyRecord = decode(OPERATION, item)?;
                let mut e = Expr::new();
                let (key, pk, sk) = (e.path(&[PK]), e.path(&[GSI3_PK]), e.path(&[GSI3_SK]));
                let (partition, sort) =
                    (e.text(keys_partition(&record.org_id)), e.text(format!("{}{}", kind_prefix(record.kind), record.key_id)));
                e.set(format!("{pk} = {partition}"));
                e.set(format!("{sk} = {sort}"));
                e.condition(format!("attribute_exists({key}) AND attribute_not_exists({pk})"));
                match with_expr!(self.update_request(api_key_key(&record.key_id)), e, update).send().await {
                    Ok(_) => indexed += 1,
                    Err(err) if error_code(&err) == Some("ConditionalCheckFailedException") => {}
                    Err(err) => return Err(classify(OPERATION, err)),
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(indexed),
            }
        }
    }

    /// The org's keys of one kind (revoked ones too), from GSI3.
    pub async fn keys_of_kind(&self, org_id: &str, kind: PrincipalKind) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI3)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :kind)")
            .expression_attribute_names("#pk", GSI3_PK)
            .expression_attribute_names("#sk", GSI3_SK)
            .expression_attribute_values(":pk", AttributeValue::S(keys_partition(org_id)))
            .expression_attribute_values(":kind", AttributeValue::S(kind_prefix(kind)));
        self.query_all("keys_of_kind", query).await
    }

    /// Marks the key revoked, with the record `revoked` makes of it, atomically; a key revoked
    /// already keeps its first revocation time and gets no second record. `None` if there is no
    /// such key.
    pub async fn revoke_api_key(
        &self,
        key_id: &str,
        now: i64,
        revoked: impl Fn(&ApiKeyRecord) -> Activity,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        const OPERATION: &str = "revoke_api_key";
        // Twice at most: a lost race finds the key revoked on the second read.
        for _ in 0..2 {
            let Some(mut record) = self.get_api_key(key_id).await? else { return Ok(None) };
            if record.revoked_at.is_some() {
                return Ok(Some(record));
            }
            record.revoked_at = Some(now);
            let (pk, sk) = api_key_key(key_id);
            let update = Update::builder()
                .table_name(&self.table)
                .key(PK, AttributeValue::S(pk))
                .key(SK, AttributeValue::S(sk))
                .update_expression("SET revoked_at = :now")
                .condition_expression("attribute_exists(PK) AND attribute_not_exists(revoked_at)")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
            let mut items = vec![TransactWriteItem::builder().update(built(OPERATION, update.build())?).build()];
            items.extend(self.activity_puts(OPERATION, &[revoked(&record)])?);
            if self.transact(OPERATION, items).await?.is_ok() {
                return Ok(Some(record));
            }
        }
        Err(StoreError::Conflict { operation: OPERATION })
    }
}

/// The attributes of the brake on a key item: the minute being counted and its refusals.
const REFUSAL_MINUTE: &str = "refusal_minute";
const REFUSALS: &str = "refusals";
const PAUSED_UNTIL: &str = "paused_until";

impl Store {
    /// Counts one refusal of the key in `minute` (epoch minutes); the refusals of that minute so
    /// far. Within a burst the minute is the one counted already: one conditional UpdateItem.
    /// The first refusal of a minute finds an older one and starts the count over instead.
    pub async fn count_refusal(&self, key_id: &str, minute: i64) -> Result<u64, StoreError> {
        const OPERATION: &str = "count_refusal";
        // Two requests starting the same minute at once: the loser adds to the winner's count.
        for _ in 0..3 {
            let mut e = Expr::new();
            let (at, count, this, one) = (e.path(&[REFUSAL_MINUTE]), e.path(&[REFUSALS]), e.num(minute), e.num(1));
            e.set(format!("{count} = {count} + {one}"));
            e.condition(format!("{at} = {this}"));
            let added = with_expr!(self.update_request(api_key_key(key_id)), e, update).return_values(ReturnValue::UpdatedNew).send().await;
            match added.map_err(|err| classify(OPERATION, err)) {
                Ok(out) => {
                    let counted = out.attributes.unwrap_or_default().get(REFUSALS).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
                    return counted
                        .ok_or(StoreError::Corrupt { operation: OPERATION, problem: "the refusal count is not a number".into() });
                }
                Err(StoreError::Conflict { .. }) => {}
                Err(err) => return Err(err),
            }
            let mut e = Expr::new();
            let (at, count, this, one) = (e.path(&[REFUSAL_MINUTE]), e.path(&[REFUSALS]), e.num(minute), e.num(1));
            e.set(format!("{at} = {this}"));
            e.set(format!("{count} = {one}"));
            e.condition(format!("attribute_exists({PK})"));
            e.condition(format!("attribute_not_exists({at}) OR {at} < {this}"));
            match with_expr!(self.update_request(api_key_key(key_id)), e, update).send().await.map_err(|err| classify(OPERATION, err)) {
                Ok(_) => return Ok(1),
                Err(StoreError::Conflict { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Conflict { operation: OPERATION })
    }

    /// Pauses the key until `until`, with its activity record, if it was refused more than
    /// `threshold` times in `minute` and is not paused at `now`. Whether this write paused it
    /// (false: a concurrent refusal did, or a human resumed it meanwhile).
    pub async fn pause_agent(
        &self,
        key_id: &str,
        minute: i64,
        threshold: u32,
        until: i64,
        now: i64,
        activity: &Activity,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "pause_agent";
        let mut e = Expr::new();
        let (at, count, paused) = (e.path(&[REFUSAL_MINUTE]), e.path(&[REFUSALS]), e.path(&[PAUSED_UNTIL]));
        let (this, threshold, until, now) = (e.num(minute), e.num(threshold), e.num(until), e.num(now));
        e.set(format!("{paused} = {until}"));
        e.condition(format!("{at} = {this} AND {count} > {threshold}"));
        e.condition(format!("attribute_not_exists({paused}) OR {paused} <= {now}"));
        let update = with_expr!(self.update_builder(api_key_key(key_id)), e, update);
        let mut items = vec![TransactWriteItem::builder().update(built(OPERATION, update.build())?).build()];
        items.extend(self.activity_puts(OPERATION, std::slice::from_ref(activity))?);
        Ok(self.transact(OPERATION, items).await?.is_ok())
    }

    /// Lifts the key's pause and starts its minute's count over, with `activity` (the resume's
    /// record) when it was paused, if its pause is still `paused_until` as read. Whether it was.
    pub async fn resume_agent(&self, key_id: &str, paused_until: Option<i64>, activity: Option<&Activity>) -> Result<bool, StoreError> {
        const OPERATION: &str = "resume_agent";
        let mut e = Expr::new();
        let (count, paused, zero) = (e.path(&[REFUSALS]), e.path(&[PAUSED_UNTIL]), e.num(0));
        e.set(format!("{count} = {zero}"));
        e.remove(paused.clone());
        e.condition(format!("attribute_exists({PK})"));
        match paused_until {
            Some(read) => {
                let read = e.num(read);
                e.condition(format!("{paused} = {read}"));
            }
            None => e.condition(format!("attribute_not_exists({paused})")),
        }
        let Some(activity) = activity else {
            let reset = with_expr!(self.update_request(api_key_key(key_id)), e, update).send().await;
            return match reset.map_err(|err| classify(OPERATION, err)) {
                Ok(_) => Ok(true),
                Err(StoreError::Conflict { .. }) => Ok(false),
                Err(err) => Err(err),
            };
        };
        let update = with_expr!(self.update_builder(api_key_key(key_id)), e, update);
        let mut items = vec![TransactWriteItem::builder().update(built(OPERATION, update.build())?).build()];
        items.extend(self.activity_puts(OPERATION, std::slice::from_ref(activity))?);
        Ok(self.transact(OPERATION, items).await?.is_ok())
    }
}
