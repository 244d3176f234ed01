//! Mandates (`ORG#<org_id>` / `MANDATE#<agent key id>`): one per AGENT key, replaced only once
//! it is revoked or lapsed. A draw from its envelope is one conditional update of its `used`
//! counters (alone, or as one item of the action's own transaction), so the envelope holds
//! under any number of racing actions; a draw whose action did not happen is given back.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::expr::{Expr, with_expr};
use super::{Key, Store, StoreError, built, classify, decode, error_code, keyed, org_key};
use crate::domain::activity::Activity;
use crate::domain::mandate::{Draw, Mandate};
use crate::domain::org::Org;

const PREFIX: &str = "MANDATE#";

pub(super) fn mandate_key(org_id: &str, agent_key_id: &str) -> Key {
    (format!("ORG#{org_id}"), format!("{PREFIX}{agent_key_id}"))
}

/// The expression of a draw: each counter raised on condition that it is at most what the
/// draw allows, on a mandate that is still this one, unrevoked and unexpired.
fn draw_expr(draw: &Draw, now: i64) -> Expr {
    let mut e = Expr::new();
    let (id_path, id) = (e.path(&["mandate_id"]), e.text(&draw.mandate_id));
    let (revoked, until, now) = (e.path(&["revoked_at"]), e.path(&["valid_until"]), e.num(now));
    e.condition(format!("{id_path} = {id} AND attribute_not_exists({revoked}) AND {until} > {now}"));
    // Set even when nothing is counted (a change that charges nothing), so the write, and its
    // condition, always happen.
    let last_used = e.path(&["last_used_at"]);
    e.set(format!("{last_used} = {now}"));
    for item in &draw.items {
        let (counter, amount, zero) = (e.path(&["used", &item.key]), e.num(item.amount), e.num(0));
        e.set(format!("{counter} = if_not_exists({counter}, {zero}) + {amount}"));
        if let Some(most) = item.at_most_used {
            let most = e.num(most);
            e.condition(format!("attribute_not_exists({counter}) OR {counter} <= {most}"));
        }
    }
    e
}

/// The expression giving a draw back (its action did not happen), on the same mandate.
fn release_expr(draw: &Draw) -> Expr {
    let mut e = Expr::new();
    let (id_path, id) = (e.path(&["mandate_id"]), e.text(&draw.mandate_id));
    e.condition(format!("{id_path} = {id}"));
    for item in &draw.items {
        let (counter, amount) = (e.path(&["used", &item.key]), e.num(item.amount));
        e.set(format!("{counter} = {counter} - {amount}"));
    }
    e
}

impl Store {
    /// Stores a new mandate with the record of its grant, unless the key holds one that is
    /// still active (`false`: nothing written).
    pub async fn put_mandate(&self, mandate: &Mandate, granted: &Activity, now: i64) -> Result<bool, StoreError> {
        const OPERATION: &str = "put_mandate";
        let mut items = vec![TransactWriteItem::builder().put(self.mandate_put(OPERATION, mandate, Some(now))?).build()];
        items.extend(self.activity_puts(OPERATION, std::slice::from_ref(granted))?);
        Ok(self.transact(OPERATION, items).await?.is_ok())
    }

    /// The Put of a key's mandate: with `unless_active_at`, only if the key holds none that is
    /// active then; without, replacing whatever it holds.
    pub(super) fn mandate_put(&self, operation: &'static str, mandate: &Mandate, unless_active_at: Option<i64>) -> Result<Put, StoreError> {
        let item = keyed(operation, mandate, mandate_key(&mandate.org_id, &mandate.agent_key_id))?;
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match unless_active_at {
            Some(now) => put
                .condition_expression("attribute_not_exists(PK) OR attribute_exists(revoked_at) OR valid_until <= :now")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string())),
            None => put,
        };
        built(operation, put.build())
    }

    /// The mandate of an AGENT key, in any state.
    pub async fn get_mandate(&self, org_id: &str, agent_key_id: &str) -> Result<Option<Mandate>, StoreError> {
        self.get("get_mandate", mandate_key(org_id, agent_key_id)).await
    }

    /// The org and an AGENT key's mandate, in one round trip.
    pub async fn org_and_mandate(&self, org_id: &str, agent_key_id: &str) -> Result<(Option<Org>, Option<Mandate>), StoreError> {
        const OPERATION: &str = "get_org_and_mandate";
        let mut items = self.get_many(OPERATION, &[org_key(org_id), mandate_key(org_id, agent_key_id)]).await?.into_iter();
        let org = items.next().flatten().map(|item| decode(OPERATION, item)).transpose()?;
        let mandate = items.next().flatten().map(|item| decode(OPERATION, item)).transpose()?;
        Ok((org, mandate))
    }

    /// Every mandate of the org (one per AGENT key that ever had one).
    pub async fn mandates(&self, org_id: &str) -> Result<Vec<Mandate>, StoreError> {
        let (pk, _) = org_key(org_id);
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", AttributeValue::S(PREFIX.into()))
            .consistent_read(true);
        self.query_all("list_mandates", query).await
    }

    /// Revokes the mandate `mandate_id` of `agent_key_id` if it is not revoked yet, with its
    /// record; `false` when it was (nothing written).
    pub async fn revoke_mandate(&self, mandate: &Mandate, by: &str, now: i64, revoked: &Activity) -> Result<bool, StoreError> {
        const OPERATION: &str = "revoke_mandate";
        let mut e = Expr::new();
        let (id_path, id) = (e.path(&["mandate_id"]), e.text(&mandate.mandate_id));
        let (at, by_path) = (e.path(&["revoked_at"]), e.path(&["revoked_by"]));
        let (now, by) = (e.num(now), e.text(by));
        e.set(format!("{at} = {now}"));
        e.set(format!("{by_path} = {by}"));
        e.condition(format!("{id_path} = {id} AND attribute_not_exists({at})"));
        let update = with_expr!(self.update_builder(mandate_key(&mandate.org_id, &mandate.agent_key_id)), e, update);
        let mut items = vec![TransactWriteItem::builder().update(built(OPERATION, update.build())?).build()];
        items.extend(self.activity_puts(OPERATION, std::slice::from_ref(revoked))?);
        Ok(self.transact(OPERATION, items).await?.is_ok())
    }

    /// A draw as one item of the action's transaction (its condition failing: the envelope or
    /// the mandate no longer allows it).
    pub(super) fn draw_update(&self, operation: &'static str, org_id: &str, draw: &Draw, now: i64) -> Result<Update, StoreError> {
        let e = draw_expr(draw, now);
        built(operation, with_expr!(self.update_builder(mandate_key(org_id, &draw.agent_key_id)), e, update).build())
    }

    /// Takes a draw on its own, before an action that cannot share its transaction (a charge
    /// at Stripe). `false`: the envelope or the mandate no longer allows it.
    pub async fn draw_mandate(&self, org_id: &str, draw: &Draw, now: i64) -> Result<bool, StoreError> {
        let e = draw_expr(draw, now);
        match with_expr!(self.update_request(mandate_key(org_id, &draw.agent_key_id)), e, update).send().await {
            Ok(_) => Ok(true),
            Err(err) if error_code(&err) == Some("ConditionalCheckFailedException") => Ok(false),
            // A transaction on the mandate in flight is a `Conflict`: the caller tries again.
            Err(err) => Err(classify("draw_mandate", err)),
        }
    }

    /// Gives back a draw taken with `draw_mandate` whose action did not happen.
    pub async fn release_mandate(&self, org_id: &str, draw: &Draw) -> Result<(), StoreError> {
        let e = release_expr(draw);
        with_expr!(self.update_request(mandate_key(org_id, &draw.agent_key_id)), e, update)
            .send()
            .await
            .map_err(|err| classify("release_mandate", err))?;
        Ok(())
    }
}
