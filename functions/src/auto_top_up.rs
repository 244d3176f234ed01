//! Automatic top-up (the table's DynamoDB Stream, filtered to the records of spends in
//! template.yaml): the top-ups the spends set off (`billing::auto_top_up`). Records that failed
//! for a reason that may pass are reported as batch item failures, delivered again in order.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use billing_shared::billing::auto_top_up::on_spends;
use billing_shared::{App, now};

use crate::stream::{failures, streamed};

pub async fn handle(app: &App, event: Event) -> DynamoDbEventResponse {
    failures(on_spends(app, streamed(event), now()).await)
}
