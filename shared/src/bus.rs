//! The EventBridge gateway: puts activity records on the stack's bus as `billing.*` events
//! (source `stripe-billing-api`, detail-type the event's type, detail the record).

use aws_config::SdkConfig;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::{Value, json};

use crate::domain::activity::{Activity, EVENT_SOURCE};

/// PutEvents takes at most 10 entries a call.
const ENTRIES_PER_CALL: usize = 10;

#[derive(Clone, Debug)]
pub struct EventBus {
    client: Client,
    name: String,
}

/// Why the bus took fewer events than it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("EventBridge put {put} of the events, then failed: {problem}")]
pub struct BusError {
    /// How many events, from the first, are on the bus.
    pub put: usize,
    pub problem: String,
}

/// The event's `detail`: the record, with the event's type and data at the top.
pub fn detail(activity: &Activity) -> Value {
    let mut detail = serde_json::to_value(activity).unwrap_or(Value::Null);
    detail["source"] = json!(EVENT_SOURCE);
    detail
}

impl EventBus {
    pub fn new(sdk: &SdkConfig, name: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), name: name.into() }
    }

    /// Puts `activities` in order, stopping at the first the bus refuses, so that what is on
    /// the bus is always a prefix of them (a retry resends the rest, keeping each org's order).
    pub async fn put(&self, activities: &[Activity]) -> Result<(), BusError> {
        let mut put = 0;
        for chunk in activities.chunks(ENTRIES_PER_CALL) {
            let entries = chunk.iter().map(|activity| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.name)
                    .source(EVENT_SOURCE)
                    .detail_type(activity.event.type_name())
                    .detail(detail(activity).to_string())
                    .build()
            });
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries.collect()))
                .send()
                .await
                .map_err(|err| BusError { put, problem: aws_sdk_eventbridge::error::DisplayErrorContext(&err).to_string() })?;
            let results = out.entries.unwrap_or_default();
            if let Some(first_failed) = results.iter().position(|entry| entry.error_code.is_some()) {
                let problem = results[first_failed].error_message.clone().unwrap_or_else(|| "refused".into());
                return Err(BusError { put: put + first_failed, problem });
            }
            put += chunk.len();
        }
        Ok(())
    }
}
