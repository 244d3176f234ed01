//! The HTTP edge: parsing requests (`request`), checking Stripe's signature
//! (`stripe_signature`), and answering in JSON or the one error envelope. A handler is
//! `serve(req, |req| async { ... })`.

mod approval_page;
mod request;
mod stripe_signature;

use std::future::Future;
use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::Instrument;

pub use approval_page::approval_page;
pub use request::{
    CTX_AUTH_ERROR, CTX_KEY_ID, CTX_KIND, CTX_ORG_ID, CTX_PRINCIPAL_ID, MAX_BODY_BYTES, idempotency_key, json_body, json_object,
    only_query_params, path_param, principal, query_param, request_id,
};
/// What the brake reads of a request (`domain::brake`).
pub use request::{CTX_PAUSED_UNTIL, caller};
pub use stripe_signature::verify_stripe_signature;

use crate::domain::brake;
use crate::error::ApiError;
use crate::{metrics, telemetry};

pub type HandlerResult = Result<Response<Body>, ApiError>;

pub fn json_response<T: Serialize>(status: u16, body: &T) -> Response<Body> {
    json_text_response(status, serde_json::to_string(body).unwrap_or_else(|_| "{}".to_string()))
}

/// A response whose body is JSON text already (e.g. a document built once per cold start).
pub fn json_text_response(status: u16, text: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn ok<T: Serialize>(body: &T) -> HandlerResult {
    Ok(json_response(200, body))
}

pub fn error_response(err: &ApiError, request_id: &str) -> Response<Body> {
    let mut response = json_response(err.status(), &err.envelope(request_id));
    if let Some(secs) = err.retry_after() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The API's public origin as the caller reached it (`https://<api domain>`; the local gateway
/// says `http`), for links an answer carries.
pub fn public_base_url(req: &Request) -> String {
    let uri = req.uri();
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
        _ => String::new(),
    }
}

/// Set on an answer replayed for a repeated `Idempotency-Key`.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The response of a retryable call: its answer (a body, or the error envelope of a refusal),
/// marked `Idempotent-Replayed: true` when it is the first answer of its key again.
pub fn answer_response(answer: crate::billing::idempotency::Answer, request_id: &str) -> Response<Body> {
    let mut response = match &answer.result {
        Ok(body) => json_response(200, body),
        Err(err) => error_response(err, request_id),
    };
    if answer.replayed {
        response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// Runs one handler inside the invocation's span (request and trace ids), maps its error to
/// the envelope, and logs and counts one request. An AGENT key the brake paused gets 429
/// `agent_paused` instead, without its handler running.
pub async fn serve<F, Fut>(req: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let request_id = request_id(&req);
    let span = telemetry::invocation(Some(&request_id), req.lambda_context_ref());
    span.record("method", req.method().as_str()).record("path", req.uri().path());
    let served = async {
        let started = Instant::now();
        let paused = caller(&req).and_then(|(_, paused_until)| Some((paused_until?, brake::retry_after(paused_until, crate::now())?)));
        let answer = match paused {
            // A paused AGENT key is answered before its handler runs: nothing is read or done.
            Some((paused_until, retry_after)) => Err(ApiError::agent_paused(paused_until, retry_after)),
            None => handler(req).await,
        };
        let response = match answer {
            Ok(response) => response,
            Err(err) => {
                if err.status() >= 500 {
                    tracing::error!(error = err.kind.code(), message = %err.message, "request failed");
                }
                error_response(&err, &request_id)
            }
        };
        tracing::info!(status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request done");
        metrics::requests(response.status().as_u16());
        response
    };
    // Activity records written while serving name the request (`telemetry::current_request_id`).
    // Boxed: a handler's future is large in a debug build, and the scope would hold a copy.
    telemetry::with_request_id(request_id.clone(), Box::pin(served.instrument(span))).await
}
