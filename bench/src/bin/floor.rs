//! The floor the functions are measured against: a bare Lambda with lambda_http and
//! aws-sdk-dynamodb (the workspace's versions and features) doing one GetItem per request.
//! No config loader, no logging: the least a Rust function reading DynamoDB can cost.
//! Reads the item `PK = $FLOOR_PK, SK = $FLOOR_SK` of `$BILLING_TABLE`; 404 if it is missing.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = Client::new(&sdk);
    let table = std::env::var("BILLING_TABLE")?;
    let pk = AttributeValue::S(std::env::var("FLOOR_PK")?);
    let sk = AttributeValue::S(std::env::var("FLOOR_SK")?);
    let (client, table, pk, sk) = (&client, &table, &pk, &sk);
    lambda_http::run(service_fn(move |_: Request| async move {
        let out = client.get_item().table_name(table).key("PK", pk.clone()).key("SK", sk.clone()).send().await;
        let out = out.map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        let status = if out.item.is_some() { 200 } else { 404 };
        Ok::<_, Error>(Response::builder().status(status).body(Body::Empty)?)
    }))
    .await
}
