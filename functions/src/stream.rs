//! The table's stream as the stream functions take and answer it.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use billing_shared::billing::publish::Streamed;

/// The batch's records: each one's sequence number and new image.
pub fn streamed(event: Event) -> Vec<Streamed> {
    event
        .records
        .into_iter()
        .map(|record| Streamed { sequence_number: record.change.sequence_number.unwrap_or_default(), image: record.change.new_image })
        .collect()
}

/// The answer naming the records to deliver again.
pub fn failures(sequence_numbers: Vec<String>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = sequence_numbers
        .into_iter()
        .map(|sequence_number| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number);
            failure
        })
        .collect();
    response
}
