//! What can go wrong talking to DynamoDB, in the store's own terms. `crate::error` turns these
//! into the API's envelope; the store itself knows nothing of HTTP.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A condition failed (the item changed, or exists already) or a transaction on the same
    /// item was in flight: the caller re-reads and decides again.
    #[error("{operation}: the item changed or exists already")]
    Conflict { operation: &'static str },
    /// DynamoDB could not be reached or refused the call: nothing was written.
    #[error("{operation}: DynamoDB is unavailable")]
    Unavailable { operation: &'static str },
    /// An item that does not encode or decode: a bug or a hand-edited item, not a client mistake.
    #[error("{operation}: {problem}")]
    Corrupt { operation: &'static str, problem: String },
}

impl StoreError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}
