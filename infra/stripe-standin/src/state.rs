//! What the HTTP side and the hosted pages share: the account behind one lock, with the
//! request log, saved idempotent responses, injected failures and the crash trap that only
//! the API uses, and the deliverer that sends the events changes produce. The server answers API requests
//! on `State` itself while holding the lock, so its fields are open to the crate.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::watch;

use crate::account::Account;
use crate::webhook::Deliverer;

/// One `/v1` request as the stand-in received it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    /// The `Request-Id` it was answered with.
    pub request_id: String,
    pub method: String,
    /// Including the `/v1` prefix.
    pub path: String,
    /// Query and form parameters as nested JSON (every leaf a string, as sent); `Null` when
    /// they could not be parsed.
    pub params: Value,
    pub idempotency_key: Option<String>,
    /// Answered from the idempotency cache instead of running again.
    pub replayed: bool,
    /// The HTTP status it was answered with.
    pub status: u16,
}

pub(crate) struct Shared {
    pub(crate) base_url: String,
    state: Mutex<State>,
    pub(crate) deliverer: Deliverer,
    /// Whether the armed crash trap has fired; a watch so a test awaiting it sees a firing
    /// that happened before it started waiting.
    pub(crate) trap_fired: watch::Sender<bool>,
}

pub(crate) struct State {
    pub(crate) account: Account,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) idempotency: HashMap<String, Saved>,
    /// Injected failures still to answer, and their status.
    pub(crate) fail_next: (usize, u16),
    /// The armed crash trap, if any.
    pub(crate) trap: Option<Trap>,
}

/// The next `/v1` request matching this runs but is never answered (`Standin::hang_after`).
pub(crate) struct Trap {
    pub(crate) method: String,
    pub(crate) path_prefix: String,
}

impl Trap {
    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        self.method.eq_ignore_ascii_case(method) && path.starts_with(&self.path_prefix)
    }
}

/// A response saved under an idempotency key, with what it answered.
pub(crate) struct Saved {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) params: Value,
    pub(crate) status: u16,
    pub(crate) body: String,
    /// When the key was first used, on the stand-in's clock: Stripe forgets keys after 24 hours.
    pub(crate) first_used: i64,
}

impl Shared {
    pub(crate) fn new(base_url: String, account: Account, deliverer: Deliverer) -> Self {
        let state = State { account, requests: Vec::new(), idempotency: HashMap::new(), fail_next: (0, 500), trap: None };
        Self { base_url, state: Mutex::new(state), deliverer, trap_fired: watch::Sender::new(false) }
    }

    /// A panic elsewhere must not wedge the stand-in, so a poisoned lock is simply reused.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the account, then queues the events it produced for delivery.
    pub(crate) fn with_account<T>(&self, f: impl FnOnce(&mut Account) -> T) -> T {
        let (result, outgoing) = {
            let mut state = self.lock();
            state.account.expire_overdue_sessions();
            let result = f(&mut state.account);
            (result, state.account.take_outbox())
        };
        self.deliverer.enqueue(outgoing);
        result
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    pub(crate) fn fail_next(&self, count: usize, status: u16) {
        self.lock().fail_next = (count, status);
    }

    pub(crate) fn hang_after(&self, method: &str, path_prefix: &str) {
        let mut state = self.lock();
        state.trap = Some(Trap { method: method.to_string(), path_prefix: path_prefix.to_string() });
        // Reset under the lock, so a request taking the new trap cannot fire before this.
        self.trap_fired.send_replace(false);
    }

    pub(crate) async fn trapped(&self) {
        let mut fired = self.trap_fired.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = fired.wait_for(|fired| *fired).await;
    }
}
