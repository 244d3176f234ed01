//! The publisher (the table's DynamoDB Stream, filtered to activity records in template.yaml):
//! puts each record on the event bus. Records the bus did not take are reported as batch item
//! failures, so Lambda delivers them again from the first of them, in order.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use billing_shared::billing::publish::publish;
use billing_shared::bus::EventBus;

use crate::stream::{failures, streamed};

pub async fn handle(bus: &EventBus, event: Event) -> DynamoDbEventResponse {
    failures(publish(bus, streamed(event)).await)
}
