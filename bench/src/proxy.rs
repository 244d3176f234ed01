//! A counting HTTP proxy. Each function process gets its own in front of DynamoDB Local
//! (through `AWS_ENDPOINT_URL_DYNAMODB`) and of the Stripe stand-in (`STRIPE_API_BASE`), so every
//! call is attributed to the process that made it. AWS calls count by operation
//! (`X-Amz-Target: DynamoDB_20120810.GetItem` counts as `GetItem`), others by method and path.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Calls per operation.
pub type Counts = BTreeMap<String, u64>;

type Upstream = Client<HttpConnector, Full<Bytes>>;

pub struct CountingProxy {
    endpoint: String,
    counts: Arc<Mutex<Counts>>,
    server: JoinHandle<()>,
}

impl CountingProxy {
    /// Listens on a free loopback port and forwards everything to `upstream` (`http://host:port`).
    pub async fn start(upstream: &Uri) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let counts = Arc::new(Mutex::new(Counts::new()));
        let client: Upstream = Client::builder(TokioExecutor::new()).build_http();
        let server = tokio::spawn(serve(listener, upstream.clone(), client, counts.clone()));
        Ok(Self { endpoint, counts, server })
    }

    /// `http://127.0.0.1:PORT`, to give the function instead of the upstream.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The calls counted so far.
    pub fn counts(&self) -> Counts {
        self.counts.lock().expect("lock").clone()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, upstream: Uri, client: Upstream, counts: Arc<Mutex<Counts>>) {
    while let Ok((stream, _)) = listener.accept().await {
        let (upstream, client, counts) = (upstream.clone(), client.clone(), counts.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (upstream, client, counts) = (upstream.clone(), client.clone(), counts.clone());
                async move { Ok::<_, Infallible>(forward(&upstream, &client, &counts, req).await) }
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

async fn forward(upstream: &Uri, client: &Upstream, counts: &Mutex<Counts>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let operation = match req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_string(),
        None => format!("{} {}", req.method(), without_ids(req.uri().path())),
    };
    *counts.lock().expect("lock").entry(operation).or_default() += 1;
    let (mut parts, body) = req.into_parts();
    let relayed = async {
        let body = body.collect().await?.to_bytes();
        let mut uri = upstream.clone().into_parts();
        uri.path_and_query = parts.uri.path_and_query().cloned();
        parts.uri = Uri::from_parts(uri)?;
        let (parts, body) = client.request(Request::from_parts(parts, Full::new(body))).await?.into_parts();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Response::from_parts(parts, Full::new(body.collect().await?.to_bytes())))
    };
    relayed.await.unwrap_or_else(|e| {
        let mut response = Response::new(Full::new(Bytes::from(format!("bench proxy: {e}"))));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        response
    })
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
