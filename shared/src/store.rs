//! The one DynamoDB store. Single-table design (defined in `template.yaml`):
//!
//! | item      | PK               | SK       | notes                                   |
//! |-----------|------------------|----------|-----------------------------------------|
//! | org       | `ORG#<org_id>`   | `ORG`    | `GSI1PK = CUS#<stripe customer>` once set |
//! | API key   | `APIKEY#<key_id>`| `APIKEY` | hash of the key, never the key          |
//!
//! Every read-modify-write is conditional on the version it read.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use crate::error::{ApiError, ErrorKind};
use crate::org::{Org, PrincipalKind};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1_PK: &str = "GSI1PK";
pub const TTL: &str = "expires_at";

type Item = HashMap<String, AttributeValue>;

/// An API key as stored: only the SHA-256 of the key, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub org_id: String,
    pub principal_id: String,
    pub kind: PrincipalKind,
    pub key_hash: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

fn org_key(org_id: &str) -> (String, String) {
    (format!("ORG#{org_id}"), "ORG".to_string())
}

fn api_key_key(key_id: &str) -> (String, String) {
    (format!("APIKEY#{key_id}"), "APIKEY".to_string())
}

fn keyed<T: Serialize>(value: &T, (pk, sk): (String, String)) -> Result<Item, ApiError> {
    let mut item: Item = to_item(value).map_err(|e| ApiError::internal(format!("cannot encode item: {e}")))?;
    item.insert(PK.into(), AttributeValue::S(pk));
    item.insert(SK.into(), AttributeValue::S(sk));
    Ok(item)
}

fn decode<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    from_item(item).map_err(|e| ApiError::internal(format!("stored item does not decode: {e}")))
}

/// A failed condition is a conflict the caller may resolve (re-read, or report 409);
/// anything else is the store being unavailable.
fn classify<E, R>(operation: &str, err: SdkError<E, R>) -> ApiError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    if err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException") {
        return ApiError::new(ErrorKind::Conflict, format!("{operation}: the item changed or exists already"));
    }
    tracing::error!(operation, error = ?err, "dynamodb call failed");
    ApiError::storage(operation)
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

    async fn get<T: DeserializeOwned>(&self, operation: &str, (pk, sk): (String, String)) -> Result<Option<T>, ApiError> {
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
        out.item.map(decode).transpose()
    }

    async fn put_new(&self, operation: &str, item: Item) -> Result<(), ApiError> {
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

    pub async fn get_org(&self, org_id: &str) -> Result<Option<Org>, ApiError> {
        self.get("get_org", org_key(org_id)).await
    }

    /// Creates the org; a conflict if it exists already.
    pub async fn create_org(&self, org: &Org) -> Result<(), ApiError> {
        self.put_new("create_org", self.org_item(org)?).await
    }

    /// Writes `org` if the stored version is still `org.version`, and bumps the version.
    /// A conflict means somebody else wrote first: re-read and decide again.
    pub async fn save_org(&self, org: &mut Org) -> Result<(), ApiError> {
        let expected = org.version;
        org.version += 1;
        let item = self.org_item(org)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        if let Err(err) = result {
            org.version = expected;
            return Err(classify("save_org", err));
        }
        Ok(())
    }

    fn org_item(&self, org: &Org) -> Result<Item, ApiError> {
        let mut item = keyed(org, org_key(&org.org_id))?;
        if let Some(customer) = &org.stripe_customer_id {
            item.insert(GSI1_PK.into(), AttributeValue::S(format!("CUS#{customer}")));
        }
        Ok(item)
    }

    pub async fn put_api_key(&self, record: &ApiKeyRecord) -> Result<(), ApiError> {
        self.put_new("put_api_key", keyed(record, api_key_key(&record.key_id))?).await
    }

    pub async fn get_api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, ApiError> {
        self.get("get_api_key", api_key_key(key_id)).await
    }

    /// Marks the key revoked (idempotent: the first revocation time stays); not found if no such key.
    pub async fn revoke_api_key(&self, key_id: &str, now: i64) -> Result<ApiKeyRecord, ApiError> {
        let (pk, sk) = api_key_key(key_id);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(pk))
            .key(SK, AttributeValue::S(sk))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| match classify("revoke_api_key", e) {
                err if err.kind == ErrorKind::Conflict => ApiError::not_found(format!("No API key `{key_id}`.")),
                err => err,
            })?;
        decode(out.attributes.unwrap_or_default())
    }
}
