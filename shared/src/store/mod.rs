//! The one DynamoDB store. Single-table design (defined in `template.yaml`):
//!
//! | item      | PK               | SK       | notes                                     |
//! |-----------|------------------|----------|-------------------------------------------|
//! | org       | `ORG#<org_id>`   | `ORG`    | `GSI1PK = CUS#<stripe customer>` once set |
//! | API key   | `APIKEY#<key_id>`| `APIKEY` | hash of the key, never the key            |
//! | event     | `EVENT#<evt id>` | `EVENT`  | a processed Stripe event; TTL 30 days     |
//! | credits   | `CREDITS#<cs id>`| `CREDITS`| credits granted for a Checkout Session    |
//! | consent   | `CONSENT#<hash>` | `CONSENT`| an agent's confirm token (hashed); TTL    |
//!
//! Every read-modify-write is conditional on the version it read. Failures are `StoreError`s.

mod api_keys;
mod consents;
mod error;
mod orgs;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Serialize, de::DeserializeOwned};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

pub use consents::{ConsentRecord, ConsentState};
pub use error::StoreError;
pub use orgs::{Applied, EVENT_TTL_SECS, OnceMarkers};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1_PK: &str = "GSI1PK";
pub const TTL: &str = "expires_at";

type Item = HashMap<String, AttributeValue>;
type Key = (String, String);

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

fn keyed<T: Serialize>(operation: &'static str, value: &T, (pk, sk): Key) -> Result<Item, StoreError> {
    let mut item: Item = to_item(value).map_err(|e| StoreError::Corrupt { operation, problem: format!("cannot encode item: {e}") })?;
    item.insert(PK.into(), AttributeValue::S(pk));
    item.insert(SK.into(), AttributeValue::S(sk));
    Ok(item)
}

fn decode<T: DeserializeOwned>(operation: &'static str, item: Item) -> Result<T, StoreError> {
    from_item(item).map_err(|e| StoreError::Corrupt { operation, problem: format!("stored item does not decode: {e}") })
}

/// A failed condition, or a transaction on the item in flight, is a conflict the caller resolves
/// (re-read, or report it); anything else is the store being unavailable.
fn classify<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    if matches!(err.as_service_error().and_then(|e| e.code()), Some("ConditionalCheckFailedException" | "TransactionConflictException")) {
        return StoreError::Conflict { operation };
    }
    tracing::error!(operation, error = ?err, "dynamodb call failed");
    StoreError::Unavailable { operation }
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get<T: DeserializeOwned>(&self, operation: &'static str, (pk, sk): Key) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(pk))
            .key(SK, AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(operation, e))?;
        out.item.map(|item| decode(operation, item)).transpose()
    }

    async fn put_new(&self, operation: &'static str, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| classify(operation, e))?;
        Ok(())
    }
}
