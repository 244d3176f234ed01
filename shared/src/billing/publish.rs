//! The publisher: puts the activity records the table's stream carries on the event bus, in
//! stream order (each org's records are in one shard, in write order), at least once.

use serde_dynamo::Item;

use crate::bus::EventBus;
use crate::domain::activity::Activity;

/// One record of the stream: its sequence number and the item as written.
#[derive(Debug, Clone)]
pub struct Streamed {
    pub sequence_number: String,
    pub image: Item,
}

/// Publishes the batch's activities in order. Answers the sequence numbers to deliver again:
/// the first record the bus did not take and every one after it, so a retry resends them in
/// order (consumers dedupe on the event `id`). A record that is not an activity cannot be
/// published ever: it is logged and passed over rather than blocking its shard.
pub async fn publish(bus: &EventBus, batch: Vec<Streamed>) -> Vec<String> {
    let mut sequence_numbers = Vec::with_capacity(batch.len());
    let mut activities = Vec::with_capacity(batch.len());
    for record in batch {
        match serde_dynamo::from_item::<_, Activity>(record.image) {
            // The org's history only: nothing to publish, nothing to deliver again.
            Ok(activity) if !activity.event.on_bus() => {}
            Ok(activity) => {
                sequence_numbers.push(record.sequence_number);
                activities.push(activity);
            }
            Err(err) => {
                tracing::error!(sequence_number = %record.sequence_number, problem = %err, "a streamed record is not an activity; passed over")
            }
        }
    }
    match bus.put(&activities).await {
        Ok(()) => {
            published(&activities);
            Vec::new()
        }
        Err(err) => {
            published(&activities[..err.put]);
            for _ in err.put..activities.len() {
                crate::metrics::events_publish_failed();
            }
            tracing::error!(published = err.put, failed = activities.len() - err.put, problem = %err.problem, "events not published; the stream delivers them again");
            sequence_numbers.split_off(err.put)
        }
    }
}

fn published(activities: &[Activity]) {
    for activity in activities {
        crate::metrics::events_published(activity.event.type_name());
    }
    tracing::info!(published = activities.len(), "events published");
}
