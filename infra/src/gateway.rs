//! The local stand-in for API Gateway (HTTP API, payload format 2.0): routes come from
//! `template.yaml`; each request becomes the same JSON event Lambda would get, runs through the
//! same authorizer function, and is handed to the same handler function as in AWS. It also
//! serves the local run's landing pages (`local_pages`), which API Gateway does not have.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use billing_functions::{DEFAULT_ROUTE, ROUTES, Route, authorizer, dispatch, match_path};
use billing_shared::App;
use billing_shared::error::{ApiError, ErrorKind};
use billing_shared::http::error_response;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Response};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use crate::local_pages;
use crate::metric_counts::{self, MetricCounts};

/// API Gateway's payload limit.
const MAX_PAYLOAD: usize = 10 * 1024 * 1024;

pub struct Gateway {
    app: App,
    next_id: AtomicU64,
}

impl Gateway {
    pub fn new(app: App) -> Self {
        Self { app, next_id: AtomicU64::new(1) }
    }

    /// Every route of template.yaml, as this gateway serves them.
    pub fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    fn route_for(&self, method: &str, path: &str) -> Option<(&'static Route, Vec<(String, String)>)> {
        ROUTES
            .iter()
            .filter(|r| r.path != DEFAULT_ROUTE && (r.method == method || r.method == "ANY"))
            .find_map(|r| match_path(r.path, path).map(|params| (r, params)))
            .or_else(|| ROUTES.iter().find(|r| r.path == DEFAULT_ROUTE).map(|r| (r, Vec::new())))
    }

    /// Serves one request as API Gateway and Lambda would.
    pub async fn handle(&self, req: http::Request<Bytes>) -> http::Response<Bytes> {
        let request_id = format!("local-{:08x}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let response = self.dispatch(&request_id, req).await;
        let (mut parts, body) = response.into_parts();
        parts.headers.insert("apigw-requestid", http::HeaderValue::from_str(&request_id).expect("ascii id"));
        let bytes = match body {
            Body::Empty => Bytes::new(),
            Body::Text(text) => Bytes::from(text),
            Body::Binary(data) => Bytes::from(data),
            _ => Bytes::new(),
        };
        http::Response::from_parts(parts, bytes)
    }

    async fn dispatch(&self, request_id: &str, req: http::Request<Bytes>) -> Response<Body> {
        let method = req.method().as_str().to_string();
        let path = req.uri().path().to_string();
        let host = req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        if method == "GET" && path == local_pages::EVENTS_PATH {
            return self.events_page(req.uri().query().unwrap_or_default(), request_id).await;
        }
        if let Some(page) = local_pages::page(&method, &path, req.uri().query().unwrap_or_default(), &format!("http://{host}")) {
            return page;
        }
        let Some((route, params)) = self.route_for(&method, &path) else {
            return error_response(&ApiError::not_found(format!("No route {method} {path}.")), request_id);
        };
        let route_key = if route.path == DEFAULT_ROUTE { DEFAULT_ROUTE.to_string() } else { format!("{} {}", route.method, route.path) };
        let mut event = lambda_event(&req, request_id, &route_key, &params);
        if route.authorized {
            let mut auth_event = event.clone();
            auth_event["type"] = json!("REQUEST");
            auth_event["routeArn"] = json!(format!("arn:aws:execute-api:local:000000000000:local/$default/{method}{path}"));
            let auth_event = match serde_json::from_value(auth_event) {
                Ok(e) => e,
                Err(e) => return error_response(&ApiError::internal(format!("authorizer event: {e}")), request_id),
            };
            let decision = authorizer::handle(&self.app, lambda_http::LambdaEvent::new(auth_event, Default::default())).await;
            if !decision.is_authorized {
                let mut forbidden = Response::new(Body::Text(r#"{"message":"Forbidden"}"#.into()));
                *forbidden.status_mut() = http::StatusCode::FORBIDDEN;
                return forbidden;
            }
            event["requestContext"]["authorizer"] = json!({ "lambda": decision.context });
        }
        let lambda_request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(r) => r,
            Err(e) => return error_response(&ApiError::internal(format!("lambda event: {e}")), request_id),
        };
        match dispatch(route.binary, &self.app, lambda_request).await {
            Some(response) => response,
            None => error_response(&ApiError::internal(format!("no local function `{}`", route.binary)), request_id),
        }
    }
}

impl Gateway {
    /// The events page of the org `?org=` names (the demo org by default), with the metrics
    /// counted since start if this process counts them (`metric_counts::install`).
    async fn events_page(&self, query: &str, request_id: &str) -> Response<Body> {
        let named = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "org").map(|(_, v)| v.into_owned());
        let org_id = named.unwrap_or_else(|| crate::seed::DEMO_ORG.to_string());
        if !billing_shared::domain::org::valid_id(&org_id) {
            return error_response(&ApiError::field("org", "must be 1-64 of a-z, 0-9, - and _"), request_id);
        }
        match self.app.store.recent_activity(&org_id, 50).await {
            Ok(activities) => {
                let metrics = metric_counts::installed().map(MetricCounts::rows).unwrap_or_default();
                local_pages::events_page(&org_id, &activities, &metrics)
            }
            Err(err) => error_response(&err.into(), request_id),
        }
    }
}

/// The API Gateway HTTP API (payload 2.0) event for `req`.
fn lambda_event(req: &http::Request<Bytes>, request_id: &str, route_key: &str, params: &[(String, String)]) -> Value {
    let mut headers = Map::new();
    for name in req.headers().keys() {
        let values: Vec<&str> = req.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        headers.insert(name.as_str().to_string(), json!(values.join(",")));
    }
    // As API Gateway says how the client reached it (here always plain HTTP on loopback).
    headers.entry("x-forwarded-proto").or_insert_with(|| json!("http"));
    let raw_query = req.uri().query().unwrap_or_default();
    let body = req.body();
    let (body, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let user_agent = req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": req.uri().path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "http": {
                "method": req.method().as_str(),
                "path": req.uri().path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": "",
            "timeEpoch": now_ms,
        },
        "isBase64Encoded": is_base64,
    });
    if !params.is_empty() {
        event["pathParameters"] = params.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<_, _>>().into();
    }
    if !body.is_empty() {
        event["body"] = json!(body);
    }
    event
}

async fn read_request(req: http::Request<Incoming>) -> Result<http::Request<Bytes>, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = Limited::new(body, MAX_PAYLOAD)
        .collect()
        .await
        .map_err(|_| ApiError::new(ErrorKind::PayloadTooLarge, format!("Request bodies are limited to {MAX_PAYLOAD} bytes.")))?;
    Ok(http::Request::from_parts(parts, bytes.to_bytes()))
}

/// Serves the gateway on `listener` until `shutdown` completes.
pub async fn serve(gateway: Arc<Gateway>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer): (_, SocketAddr) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => { tracing::warn!(error = %e, "accept failed"); continue; }
            },
        };
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let gateway = gateway.clone();
                async move {
                    let response = match read_request(req).await {
                        Ok(req) => gateway.handle(req).await,
                        Err(err) => {
                            let (parts, body) = error_response(&err, "local-oversized").into_parts();
                            http::Response::from_parts(parts, Bytes::from(body.to_vec()))
                        }
                    };
                    Ok::<_, Infallible>(response.map(Full::new))
                }
            });
            let io = TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
}
