//! The reconciler's event cursor: one item (`RECONCILER` / `EVENTS`) holding the `created` of
//! the newest Stripe event a run went through. It only moves forward, with a conditional write,
//! so two runs at once cannot move it back.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;

use super::{Key, Store, StoreError, classify};

fn cursor_key() -> Key {
    ("RECONCILER".to_string(), "EVENTS".to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct EventCursor {
    /// `created` (epoch seconds) of the newest event a run has handled.
    pub created: i64,
    /// When a run last moved it.
    pub updated_at: i64,
}

impl Store {
    pub async fn event_cursor(&self) -> Result<Option<EventCursor>, StoreError> {
        self.get("event_cursor", cursor_key()).await
    }

    /// Moves the cursor from `seen` (what this run read; `None` when there was none) to `to`;
    /// false, and nothing written, when another run moved it in between.
    pub async fn move_event_cursor(&self, seen: Option<i64>, to: i64, now: i64) -> Result<bool, StoreError> {
        let operation = "move_event_cursor";
        let request = self
            .update_request(cursor_key())
            .update_expression("SET #created = :to, updated_at = :now")
            .expression_attribute_names("#created", "created")
            .expression_attribute_values(":to", AttributeValue::N(to.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
        let request = match seen {
            Some(seen) => request
                .condition_expression("#created = :seen AND :to > :seen")
                .expression_attribute_values(":seen", AttributeValue::N(seen.to_string())),
            None => request.condition_expression("attribute_not_exists(PK)"),
        };
        match request.send().await.map_err(|e| classify(operation, e)) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }
}
