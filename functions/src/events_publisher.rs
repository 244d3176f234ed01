//! The publisher (the table's DynamoDB Stream, filtered to activity records in template.yaml):
//! puts each record on the event bus. Records the bus did not take are reported as batch item
//! failures, so Lambda delivers them again from the first of them, in order.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use billing_shared::billing::publish::{Streamed, publish};
use billing_shared::bus::EventBus;

pub async fn handle(bus: &EventBus, event: Event) -> DynamoDbEventResponse {
    let batch = event
        .records
        .into_iter()
        .map(|record| Streamed { sequence_number: record.change.sequence_number.unwrap_or_default(), image: record.change.new_image })
        .collect();
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = publish(bus, batch)
        .await
        .into_iter()
        .map(|sequence_number| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number);
            failure
        })
        .collect();
    response
}
