//! Webhook delivery as Stripe does it: POST the event JSON with a `Stripe-Signature` header
//! (`t=<unix ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<body>")>`), retry on a non-2xx answer or
//! a connection error, and keep a record of every attempt.
//!
//! First attempts go out one at a time in event order, so a receiver sees a checkout's events
//! in the order they happened; retries run on their own tasks so one failing event does not
//! hold back the rest (Stripe does not promise ordering across retries either).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;
use tokio::sync::{mpsc, watch};

use crate::clock;

/// Attempts per delivery, and the pause before each retry: short, because receivers here are
/// local test servers and tests wait for the outcome.
const MAX_ATTEMPTS: u32 = 4;
const BACKOFF: [Duration; 3] = [Duration::from_millis(50), Duration::from_millis(200), Duration::from_millis(800)];
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where events go: the endpoint URL and its signing secret (`whsec_...`).
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) secret: String,
}

/// One event bound for one endpoint. The body is serialized once so every attempt (and a
/// redelivery) sends identical bytes, as Stripe does.
#[derive(Clone, Debug)]
pub(crate) struct Outgoing {
    pub(crate) event_id: String,
    pub(crate) event_type: String,
    pub(crate) body: String,
    pub(crate) endpoint: Endpoint,
}

/// One delivery attempt, as `Standin::deliveries` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    /// 1 for the first attempt of a delivery; a redelivery starts again at 1.
    pub attempt: u32,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why no status was received (connection refused, timeout, bad URL).
    pub error: Option<String>,
}

/// `Stripe-Signature` for `body` signed with `secret` at `timestamp`.
pub(crate) fn signature_header(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Clone)]
pub(crate) struct Deliverer {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client<HttpConnector, Full<Bytes>>,
    log: Mutex<Vec<Delivery>>,
    queue: mpsc::UnboundedSender<Outgoing>,
    /// Deliveries queued or still retrying; `settled` waits for zero.
    in_flight: watch::Sender<usize>,
}

impl Deliverer {
    /// Spawns the in-order worker on the current tokio runtime.
    pub(crate) fn start() -> Self {
        let (queue, mut receiver) = mpsc::unbounded_channel::<Outgoing>();
        let inner = Arc::new(Inner {
            client: Client::builder(TokioExecutor::new()).build_http(),
            log: Mutex::new(Vec::new()),
            queue,
            in_flight: watch::Sender::new(0),
        });
        let worker = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Some(outgoing) = receiver.recv().await {
                let Some(inner) = worker.upgrade() else { break };
                if inner.attempt(&outgoing, 1).await {
                    inner.finish();
                } else {
                    tokio::spawn(async move {
                        inner.retry(&outgoing, 2).await;
                        inner.finish();
                    });
                }
            }
        });
        Self { inner }
    }

    /// Queues events for delivery and returns at once.
    pub(crate) fn enqueue(&self, events: Vec<Outgoing>) {
        for outgoing in events {
            self.inner.in_flight.send_modify(|n| *n += 1);
            if self.inner.queue.send(outgoing).is_err() {
                self.inner.finish();
            }
        }
    }

    /// Delivers one event now, with retries, and returns when done.
    pub(crate) async fn deliver_now(&self, outgoing: &Outgoing) {
        if !self.inner.attempt(outgoing, 1).await {
            self.inner.retry(outgoing, 2).await;
        }
    }

    /// Waits until every queued delivery has succeeded or used up its attempts.
    pub(crate) async fn settled(&self) {
        let mut in_flight = self.inner.in_flight.subscribe();
        // The sender lives in `inner`, which `self` keeps alive, so this cannot fail.
        let _ = in_flight.wait_for(|n| *n == 0).await;
    }

    pub(crate) fn log(&self) -> Vec<Delivery> {
        self.inner.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Inner {
    fn finish(&self) {
        self.in_flight.send_modify(|n| *n = n.saturating_sub(1));
    }

    async fn retry(&self, outgoing: &Outgoing, first: u32) {
        for attempt in first..=MAX_ATTEMPTS {
            let pause = BACKOFF.get(attempt as usize - 2).copied().unwrap_or(Duration::from_secs(1));
            tokio::time::sleep(pause).await;
            if self.attempt(outgoing, attempt).await {
                return;
            }
        }
    }

    /// Sends once, records the outcome, and tells whether the receiver answered 2xx.
    async fn attempt(&self, outgoing: &Outgoing, attempt: u32) -> bool {
        let (status, error) = match self.send(outgoing).await {
            Ok(status) => (Some(status), None),
            Err(error) => (None, Some(error)),
        };
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(Delivery {
            event_id: outgoing.event_id.clone(),
            event_type: outgoing.event_type.clone(),
            attempt,
            status,
            error,
        });
        status.is_some_and(|s| (200..300).contains(&s))
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<u16, String> {
        // The machine's clock, not the account's: receivers check the signature's timestamp
        // against their own clock, which `Standin::advance_clock` does not move.
        let signature = signature_header(&outgoing.endpoint.secret, clock::now(), &outgoing.body);
        let request = Request::builder()
            .method(Method::POST)
            .uri(&outgoing.endpoint.url)
            .header("content-type", "application/json; charset=utf-8")
            .header("user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            .header("stripe-signature", signature)
            .body(Full::new(Bytes::from(outgoing.body.clone())))
            .map_err(|e| format!("invalid webhook URL {}: {e}", outgoing.endpoint.url))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| format!("{e:?}"))?;
            let status = response.status().as_u16();
            // Drain the body so the connection is released cleanly.
            let _ = response.into_body().collect().await;
            Ok(status)
        };
        tokio::time::timeout(ATTEMPT_TIMEOUT, exchange).await.map_err(|_| "timed out".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_stripe_reference() {
        // HMAC-SHA256("whsec_test", "1700000000.{}"), computed independently with openssl.
        assert_eq!(
            signature_header("whsec_test", 1_700_000_000, "{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }
}
