//! The HTTP side: accept connections, answer `/v1` API requests the way Stripe's edge does
//! (auth, idempotency, `Request-Id`, injected failures, request log, the crash trap) and hand
//! everything else to the hosted pages.
//!
//! Each API request is handled start to finish under one lock, so requests are serialized:
//! there is never a concurrent request with the same idempotency key, and every response
//! reflects a consistent account.

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::account::Origin;
use crate::error::StripeApiError;
use crate::response::{insert_header, json_response};
use crate::state::{RecordedRequest, Saved, Shared, State};
use crate::{api, form, objects, pages};

/// Stripe refuses bodies past a limit too; none of the supported requests comes close.
const MAX_BODY: usize = 256 * 1024;

/// Stripe forgets an idempotency key once it is 24 hours old; a later request with it runs anew.
const KEY_LIFETIME_SECS: i64 = 24 * 3600;

/// What an API request is answered with, before it becomes an HTTP response.
struct Answer {
    status: u16,
    body: String,
    replayed: bool,
}

impl Answer {
    /// Stripe links each error to its request log; clients take the request id from there.
    fn error(error: &StripeApiError, request_log_url: &str) -> Self {
        let mut body = error.body();
        body["error"]["request_log_url"] = Value::String(request_log_url.to_string());
        Self { status: error.status, body: pretty(&body), replayed: false }
    }
}

/// Accepts connections until the runtime shuts down.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors or similar: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(route(&shared, request).await) }
            });
            // A client hanging up mid-request is its own business.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn route(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, MAX_BODY).collect().await.map(|b| b.to_bytes()).ok();
    let path = parts.uri.path();
    if path == "/v1" || path.starts_with("/v1/") {
        let (response, trapped) = api_request(shared, &parts, body);
        if trapped {
            // The caller "died" after Stripe applied its request: it never reads an answer, so
            // the connection stays open and unanswered until the client gives up on it.
            shared.trap_fired.send_replace(true);
            return std::future::pending().await;
        }
        response
    } else {
        pages::handle(shared, parts.method.as_str(), path, body.as_deref())
    }
}

/// The response to send, and whether the crash trap took this request (its response is then
/// never sent).
fn api_request(shared: &Shared, parts: &Parts, body: Option<Bytes>) -> (Response<Full<Bytes>>, bool) {
    let method = parts.method.as_str();
    let path = parts.uri.path();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let idempotency_key = header("idempotency-key");
    let params = parse_params(parts.uri.query(), body.as_deref());

    let (request_id, answer, outgoing, trapped) = {
        let mut state = shared.lock();
        let trapped = state.trap.as_ref().is_some_and(|trap| trap.matches(method, path));
        if trapped {
            state.trap = None;
        }
        let request_id = state.account.ids.id("req_", 14);
        let answer = state.answer(method, path, header("authorization").as_deref(), idempotency_key.as_deref(), &params, &request_id);
        state.requests.push(RecordedRequest {
            request_id: request_id.clone(),
            method: method.to_string(),
            path: path.to_string(),
            params: params.clone().unwrap_or(Value::Null),
            idempotency_key: idempotency_key.clone(),
            replayed: answer.replayed,
            status: answer.status,
        });
        let outgoing = state.account.take_outbox();
        (request_id, answer, outgoing, trapped)
    };
    shared.deliverer.enqueue(outgoing);

    let mut response = json_response(answer.status, answer.body);
    let headers = response.headers_mut();
    insert_header(headers, "request-id", &request_id);
    insert_header(headers, "stripe-version", objects::API_VERSION);
    if let Some(key) = idempotency_key.filter(|_| method != "GET") {
        insert_header(headers, "idempotency-key", &key);
    }
    if answer.replayed {
        insert_header(headers, "idempotent-replayed", "true");
    }
    if answer.status == 401 {
        insert_header(headers, "www-authenticate", "Basic realm=\"Stripe\"");
    }
    (response, trapped)
}

impl State {
    fn answer(
        &mut self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        idempotency_key: Option<&str>,
        params: &Result<Value, StripeApiError>,
        request_id: &str,
    ) -> Answer {
        let log = format!("{}/logs/{request_id}", self.account.public_base);
        if self.fail_next.0 > 0 {
            self.fail_next.0 -= 1;
            return Answer::error(&StripeApiError::injected(self.fail_next.1), &log);
        }
        if let Err(error) = authorize(authorization) {
            return Answer::error(&error, &log);
        }
        let params = match params {
            Ok(params) => params,
            Err(error) => return Answer::error(error, &log),
        };
        // Stripe honours idempotency keys on POST (and DELETE); GETs are idempotent anyway.
        let key = idempotency_key.filter(|_| method != "GET");
        let now = self.account.now();
        if let Some(key) = key
            && self.idempotency.get(key).is_some_and(|saved| now - saved.first_used >= KEY_LIFETIME_SECS)
        {
            self.idempotency.remove(key);
        }
        if let Some(key) = key
            && let Some(saved) = self.idempotency.get(key)
        {
            if saved.method != method || saved.path != path || &saved.params != params {
                return Answer::error(&StripeApiError::idempotency_mismatch(key), &log);
            }
            return Answer { status: saved.status, body: saved.body.clone(), replayed: true };
        }
        let origin = Origin { request_id: Some(request_id.to_string()), idempotency_key: idempotency_key.map(str::to_string) };
        let answer = match api::handle(&mut self.account, method, path, params, &origin) {
            Ok(object) => Answer { status: 200, body: pretty(&object), replayed: false },
            Err(error) => Answer::error(&error, &log),
        };
        // Stripe saves a result once the endpoint ran (a card's refusal included: the payment
        // intent exists); requests refused by validation are not saved, so a corrected retry
        // with the same key can still succeed.
        if let Some(key) = key
            && matches!(answer.status, 200 | 402)
        {
            let saved = Saved {
                method: method.to_string(),
                path: path.to_string(),
                params: params.clone(),
                status: answer.status,
                body: answer.body.clone(),
                first_used: now,
            };
            self.idempotency.insert(key.to_string(), saved);
        }
        answer
    }
}

/// Any test-mode secret key (`sk_test_...`) is accepted, like a fresh Stripe test account.
/// Like Stripe, the key comes as a Bearer token or as the Basic auth user name (`curl -u
/// sk_test_...:`, as in Stripe's docs).
fn authorize(authorization: Option<&str>) -> Result<(), StripeApiError> {
    let Some(value) = authorization else {
        return Err(StripeApiError::missing_api_key());
    };
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    let key = match scheme.to_ascii_lowercase().as_str() {
        "bearer" => credentials.trim().to_string(),
        "basic" => BASE64_STANDARD
            .decode(credentials.trim())
            .ok()
            .and_then(|decoded| String::from_utf8(decoded).ok())
            .map(|user_password| user_password.split(':').next().unwrap_or_default().to_string())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let key = key.as_str();
    if key.is_empty() {
        Err(StripeApiError::missing_api_key())
    } else if key.starts_with("sk_test_") && key.len() > "sk_test_".len() {
        Ok(())
    } else {
        Err(StripeApiError::invalid_api_key(key))
    }
}

/// The query string and the form body together, as Stripe reads them.
fn parse_params(query: Option<&str>, body: Option<&[u8]>) -> Result<Value, StripeApiError> {
    let body = body.ok_or_else(|| StripeApiError::bad_request("The request body is too large."))?;
    let body = std::str::from_utf8(body).map_err(|_| StripeApiError::bad_request("The request body is not valid UTF-8."))?;
    let combined = match query {
        Some(query) if !body.is_empty() => format!("{query}&{body}"),
        Some(query) => query.to_string(),
        None => body.to_string(),
    };
    form::parse(&combined).map_err(|e| StripeApiError::bad_request(e.0))
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_test_secret_keys_are_accepted() {
        assert!(authorize(Some("Bearer sk_test_123")).is_ok());
        assert_eq!(authorize(None).unwrap_err().status, 401);
        assert_eq!(authorize(Some("Bearer ")).unwrap_err().status, 401);
        assert_eq!(authorize(Some("Bearer sk_live_123")).unwrap_err().status, 401);
        assert_eq!(authorize(Some("Basic abc")).unwrap_err().status, 401);
        // `curl -u sk_test_123:` sends Basic base64("sk_test_123:").
        assert!(authorize(Some("Basic c2tfdGVzdF8xMjM6")).is_ok());
    }

    #[test]
    fn query_and_body_are_merged() {
        let params = parse_params(Some("expand[]=customer"), Some(b"name=Acme")).unwrap();
        assert_eq!(params, serde_json::json!({"expand": ["customer"], "name": "Acme"}));
        assert!(parse_params(None, None).is_err());
        assert!(parse_params(None, Some(&[0xff])).is_err());
    }
}
