//! The floor the functions are measured against: a bare Lambda with lambda_http and
//! aws-sdk-dynamodb (the workspace's versions and features). No config loader, no logging: the
//! least a Rust function calling DynamoDB can cost. Works on the item `PK = $FLOOR_PK,
//! SK = $FLOOR_SK` of `$BILLING_TABLE` (404 if it is missing), making per request what
//! `$FLOOR_CALLS` says:
//! - `get` (the default, the brief's floor): one GetItem;
//! - `update`: one conditional UpdateItem returning the item, as a reservation makes;
//! - `get-transact`: a GetItem, then a TransactWriteItems that updates the item on the condition
//!   that it is as read and puts a new item, as a credits spend makes;
//! - `batch-transact`: a BatchGetItem of the item and a second one (`SK = $FLOOR_SK#counter`),
//!   then a TransactWriteItems of `get-transact`'s two items and a conditional counter update of
//!   the second, as an AGENT's spend drawn from its mandate makes.

use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update};
use lambda_http::Error;

const UPDATES: &str = "bench_floor_updates";
const VERSION: &str = "bench_floor_version";

pub enum Calls {
    Get,
    Update,
    GetTransact,
    BatchTransact,
}

pub struct Floor {
    client: Client,
    table: String,
    pk: AttributeValue,
    sk: AttributeValue,
    calls: Calls,
}

fn sdk_error<E: std::error::Error + 'static, R: std::fmt::Debug>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> Error {
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string().into()
}

impl Floor {
    /// Whether the item exists.
    async fn call(&self) -> Result<bool, Error> {
        match self.calls {
            Calls::Get => Ok(self.get().await?.is_some()),
            Calls::Update => {
                let out = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("PK", self.pk.clone())
                    .key("SK", self.sk.clone())
                    .update_expression("SET #n = if_not_exists(#n, :zero) + :one")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_names("#n", UPDATES)
                    .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                    .expression_attribute_values(":one", AttributeValue::N("1".into()))
                    .return_values(ReturnValue::AllNew)
                    .send()
                    .await;
                Ok(out.map_err(sdk_error)?.attributes.is_some())
            }
            Calls::GetTransact => {
                let Some(item) = self.get().await? else { return Ok(false) };
                self.transact(&item, None).await
            }
            Calls::BatchTransact => {
                let keys = KeysAndAttributes::builder().keys(self.key(&self.sk)).keys(self.key(&self.counter_sk())).build()?;
                let out = self.client.batch_get_item().request_items(&self.table, keys).send().await.map_err(sdk_error)?;
                let items = out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default();
                let Some(item) = items.into_iter().find(|i| i.get("SK") == Some(&self.sk)) else { return Ok(false) };
                self.transact(&item, Some(self.counter_sk())).await
            }
        }
    }

    fn key(&self, sk: &AttributeValue) -> HashMap<String, AttributeValue> {
        HashMap::from([("PK".to_string(), self.pk.clone()), ("SK".to_string(), sk.clone())])
    }

    fn counter_sk(&self) -> AttributeValue {
        AttributeValue::S(format!("{}#counter", self.sk.as_s().map(String::as_str).unwrap_or_default()))
    }

    /// Updates `item` on the condition that it is as read and puts a new item; with `counter`,
    /// also counts one more on that item, below a bound.
    async fn transact(&self, item: &HashMap<String, AttributeValue>, counter: Option<AttributeValue>) -> Result<bool, Error> {
        let version: u64 = item.get(VERSION).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
        let Some(AttributeValue::S(pk)) = item.get("PK") else { return Ok(false) };
        let update = Update::builder()
            .table_name(&self.table)
            .key("PK", self.pk.clone())
            .key("SK", self.sk.clone())
            .update_expression("SET #v = :next")
            .condition_expression("attribute_not_exists(#v) OR #v = :read")
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":next", AttributeValue::N((version + 1).to_string()))
            .expression_attribute_values(":read", AttributeValue::N(version.to_string()))
            .build()?;
        let put = Put::builder()
            .table_name(&self.table)
            .item("PK", AttributeValue::S(format!("FLOOR#{pk}")))
            .item("SK", AttributeValue::S(format!("{:020}", version + 1)))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        let mut items = vec![TransactWriteItem::builder().update(update).build(), TransactWriteItem::builder().put(put).build()];
        if let Some(sk) = counter {
            let count = Update::builder()
                .table_name(&self.table)
                .key("PK", self.pk.clone())
                .key("SK", sk)
                .update_expression("SET #n = if_not_exists(#n, :zero) + :one")
                .condition_expression("attribute_not_exists(#n) OR #n < :bound")
                .expression_attribute_names("#n", UPDATES)
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":bound", AttributeValue::N(u64::MAX.to_string()))
                .build()?;
            items.push(TransactWriteItem::builder().update(count).build());
        }
        let out = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        out.map_err(sdk_error)?;
        Ok(true)
    }

    async fn get(&self) -> Result<Option<std::collections::HashMap<String, AttributeValue>>, Error> {
        let out = self.client.get_item().table_name(&self.table).key("PK", self.pk.clone()).key("SK", self.sk.clone()).send().await;
        Ok(out.map_err(sdk_error)?.item)
    }
}

impl Floor {
    /// The floor `FLOOR_CALLS`, `BILLING_TABLE`, `FLOOR_PK` and `FLOOR_SK` describe.
    pub async fn from_env() -> Result<Self, Error> {
        let calls = match std::env::var("FLOOR_CALLS").as_deref() {
            Err(_) | Ok("get") => Calls::Get,
            Ok("update") => Calls::Update,
            Ok("get-transact") => Calls::GetTransact,
            Ok("batch-transact") => Calls::BatchTransact,
            Ok(other) => return Err(format!("FLOOR_CALLS=`{other}`: use get, update, get-transact or batch-transact").into()),
        };
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Self {
            client: Client::new(&sdk),
            table: std::env::var("BILLING_TABLE")?,
            pk: AttributeValue::S(std::env::var("FLOOR_PK")?),
            sk: AttributeValue::S(std::env::var("FLOOR_SK")?),
            calls,
        })
    }

    /// The status the floor answers: 200 when the item exists, 404 when not.
    pub async fn status(&self) -> Result<u16, Error> {
        Ok(if self.call().await? { 200 } else { 404 })
    }
}
