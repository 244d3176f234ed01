//! A counting HTTP proxy. Each function process gets its own in front of DynamoDB Local
//! (through `AWS_ENDPOINT_URL_DYNAMODB`) and of the Stripe stand-in (`STRIPE_API_BASE`), so every
//! call is attributed to the process that made it. AWS calls count by operation
//! (`X-Amz-Target: DynamoDB_20120810.GetItem` counts as `GetItem`), others by method and path.
//! DynamoDB calls also add up their capacity units (`capacity.rs`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::capacity;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Calls per operation.
pub type Counts = BTreeMap<String, u64>;
/// DynamoDB capacity units per operation.
pub type Units = BTreeMap<String, f64>;

/// The DynamoDB operations that take `ReturnConsumedCapacity`.
const CAPACITY_OPERATIONS: [&str; 10] = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "TransactWriteItems",
    "TransactGetItems",
    "BatchGetItem",
    "BatchWriteItem",
];

type Upstream = Client<HttpConnector, Full<Bytes>>;

pub struct CountingProxy {
    endpoint: String,
    counts: Arc<Mutex<Counts>>,
    units: Arc<Mutex<Units>>,
    server: JoinHandle<()>,
}

impl CountingProxy {
    /// Listens on a free loopback port and forwards everything to `upstream` (`http://host:port`).
    pub async fn start(upstream: &Uri) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let tally = Tally::default();
        let client: Upstream = Client::builder(TokioExecutor::new()).build_http();
        let (counts, units) = (tally.counts.clone(), tally.units.clone());
        let server = tokio::spawn(serve(listener, upstream.clone(), client, tally));
        Ok(Self { endpoint, counts, units, server })
    }

    /// `http://127.0.0.1:PORT`, to give the function instead of the upstream.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The calls counted so far.
    pub fn counts(&self) -> Counts {
        self.counts.lock().expect("lock").clone()
    }

    /// The DynamoDB capacity units counted so far.
    pub fn units(&self) -> Units {
        self.units.lock().expect("lock").clone()
    }
}

#[derive(Clone, Default)]
struct Tally {
    counts: Arc<Mutex<Counts>>,
    units: Arc<Mutex<Units>>,
}

impl Tally {
    fn add_units(&self, operation: &str, units: f64) {
        *self.units.lock().expect("lock").entry(operation.to_string()).or_default() += units;
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, upstream: Uri, client: Upstream, tally: Tally) {
    while let Ok((stream, _)) = listener.accept().await {
        let (upstream, client, tally) = (upstream.clone(), client.clone(), tally.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (upstream, client, tally) = (upstream.clone(), client.clone(), tally.clone());
                async move { Ok::<_, Infallible>(forward(&upstream, &client, &tally, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// `/v1/checkout/sessions/cs_test_a1B2` -> `/v1/checkout/sessions/{id}`: Stripe ids (a prefix,
/// `_`, then random letters and digits) vary, the operation does not.
fn without_ids(path: &str) -> String {
    let is_id = |s: &str| s.contains('_') && s.bytes().any(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    path.split('/').map(|s| if is_id(s) { "{id}" } else { s }).collect::<Vec<_>>().join("/")
}

async fn forward(upstream: &Uri, client: &Upstream, tally: &Tally, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let dynamodb = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).map(|t| t.rsplit('.').next().unwrap_or(t).to_string());
    let operation = dynamodb.clone().unwrap_or_else(|| format!("{} {}", req.method(), without_ids(req.uri().path())));
    *tally.counts.lock().expect("lock").entry(operation.clone()).or_default() += 1;
    let (mut parts, body) = req.into_parts();
    let relayed = async {
        let mut body = body.collect().await?.to_bytes();
        let request: Option<Value> = dynamodb.as_ref().and_then(|_| serde_json::from_slice(&body).ok());
        if let Some(mut request) = request.clone().filter(|_| CAPACITY_OPERATIONS.contains(&operation.as_str())) {
            request["ReturnConsumedCapacity"] = json!("TOTAL");
            body = Bytes::from(request.to_string());
            parts.headers.remove(hyper::header::CONTENT_LENGTH);
        }
        let mut uri = upstream.clone().into_parts();
        uri.path_and_query = parts.uri.path_and_query().cloned();
        parts.uri = Uri::from_parts(uri)?;
        let headers = parts.headers.clone();
        let (parts, body) = client.request(Request::from_parts(parts, Full::new(body))).await?.into_parts();
        let body = body.collect().await?.to_bytes();
        match (operation.as_str(), request) {
            ("TransactWriteItems", Some(request)) if parts.status.is_success() => {
                tokio::spawn(transaction_units(upstream.clone(), client.clone(), headers, tally.clone(), request));
            }
            (_, Some(_)) => {
                let answer: Value = serde_json::from_slice(&body).unwrap_or_default();
                tally.add_units(&operation, capacity::consumed(&answer));
            }
            _ => {}
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Response::from_parts(parts, Full::new(body)))
    };
    relayed.await.unwrap_or_else(|e| {
        let mut response = Response::new(Full::new(Bytes::from(format!("bench proxy: {e}"))));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        response
    })
}

/// A transaction's write units by AWS's rule, from each item as it is once written (read after
/// the answer, so the function does not wait for it) or as put. Sent with the function's own
/// headers: DynamoDB Local keeps a database per access key and region.
async fn transaction_units(upstream: Uri, client: Upstream, headers: hyper::HeaderMap, tally: Tally, request: Value) {
    let mut units = 0.0;
    for capacity::TransactItem { table, key, put } in capacity::transact_items(&request) {
        let get = json!({ "TableName": table, "Key": key, "ConsistentRead": true });
        let mut req = Request::post(upstream.clone()).body(Full::new(Bytes::from(get.to_string()))).expect("request");
        *req.headers_mut() = headers.clone();
        req.headers_mut().remove(hyper::header::CONTENT_LENGTH);
        req.headers_mut().insert("x-amz-target", hyper::header::HeaderValue::from_static("DynamoDB_20120810.GetItem"));
        let stored = match client.request(req).await {
            Ok(answer) => answer
                .into_body()
                .collect()
                .await
                .map(|b| serde_json::from_slice::<Value>(&b.to_bytes()).unwrap_or_default())
                .unwrap_or_default(),
            Err(_) => Value::Null,
        };
        let stored_size = stored["Item"].as_object().map_or(0, capacity::item_size);
        units += capacity::transact_write_units(stored_size.max(put.as_ref().map_or(0, capacity::item_size)));
    }
    tally.add_units("TransactWriteItems", units);
}

#[cfg(test)]
mod tests {
    use super::without_ids;

    #[test]
    fn stripe_ids_are_folded_out_of_paths() {
        assert_eq!(without_ids("/v1/checkout/sessions/cs_test_a1B2c3"), "/v1/checkout/sessions/{id}");
        assert_eq!(without_ids("/v1/customers/cus_42/sources"), "/v1/customers/{id}/sources");
        assert_eq!(without_ids("/v1/billing_portal/sessions"), "/v1/billing_portal/sessions");
    }
}
