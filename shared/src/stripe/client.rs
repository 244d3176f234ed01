//! The HTTP half of the gateway: sends one request that async-stripe's request builders
//! described (`RequestBuilder`: method, path, form body, query) and reads the answer into the few
//! fields the API uses. It replaces async-stripe's client, whose error type (and the objects a
//! `send` decodes) link most of Stripe's object graph into every function: about 6 MB of the
//! 13 MB they weighed. One attempt per call; `retry` in the gateway decides about the next.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use stripe_client_core::{IdempotencyKey, RequestBuilder, StripeMethod};

use super::GatewayError;
use crate::config::ConfigError;

const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(2500);
/// Kept short: Stripe closes idle connections, and a frozen Lambda should not wake to a dead one.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);
const USER_AGENT_VALUE: &str = concat!("billing-api/", env!("CARGO_PKG_VERSION"));

#[derive(Clone)]
pub(super) struct StripeHttp {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// `https://api.stripe.com/` or the stand-in, always ending in `/`.
    base: String,
    authorization: HeaderValue,
}

/// A decoded answer, and whether it is the saved answer of an earlier request with the same
/// idempotency key (`Idempotent-Replayed: true`): Stripe did nothing for this one.
pub(super) struct Answer<T> {
    pub value: T,
    pub replayed: bool,
}

/// Stripe's error body: `{"error": {"type", "code", "message", ...}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    error_type: Option<String>,
    code: Option<String>,
    message: Option<String>,
    /// A card error's payment intent (Stripe sends the whole object).
    payment_intent: Option<super::wire::Object>,
}

impl StripeHttp {
    pub(super) fn new(secret_key: &str, base: &url::Url) -> Result<Self, ConfigError> {
        // The key comes from STRIPE_SECRET_KEY locally, from the secret's field in AWS.
        let mut authorization = HeaderValue::from_str(&format!("Bearer {secret_key}")).map_err(|_| ConfigError::Invalid {
            name: "STRIPE_SECRET_KEY (stripe_secret_key in the secret)",
            problem: "not a valid HTTP header value".into(),
        })?;
        authorization.set_sensitive(true);
        let mut base = base.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(POOL_IDLE_TIMEOUT).build(connector);
        Ok(Self { client, base, authorization })
    }

    /// `request` ready to be sent, as often as the retries need.
    pub(super) fn prepare(&self, request: RequestBuilder) -> Prepared {
        let mut uri = format!("{}v1{}", self.base, request.path);
        if let Some(query) = &request.query {
            uri.push('?');
            uri.push_str(query);
        }
        let method = match request.method {
            StripeMethod::Get => Method::GET,
            StripeMethod::Post => Method::POST,
            StripeMethod::Delete => Method::DELETE,
        };
        Prepared { method, uri, form: request.body.map(Bytes::from) }
    }

    /// One attempt of `request`, with `Idempotency-Key` when given. Not generic over the answer's
    /// type, so every call shares this code; `decode` reads the body.
    pub(super) async fn call(
        &self,
        operation: &'static str,
        request: &Prepared,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<Raw, GatewayError> {
        let http_request = self.http_request(request, idempotency_key).map_err(|e| GatewayError::local(operation, e.to_string()))?;
        let attempt = async {
            let response = self.client.request(http_request).await.map_err(|e| GatewayError::unreachable(operation, e.to_string()))?;
            let status = response.status().as_u16();
            let request_id = response.headers().get("request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
            let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
            let body = response.into_body().collect().await.map_err(|e| GatewayError::unreachable(operation, e.to_string()))?.to_bytes();
            Ok::<_, GatewayError>((status, request_id, replayed, body))
        };
        let (status, request_id, replayed, body) = tokio::time::timeout(ATTEMPT_TIMEOUT, attempt)
            .await
            .map_err(|_| GatewayError::unreachable(operation, format!("no answer within {} ms", ATTEMPT_TIMEOUT.as_millis())))??;
        if !(200..300).contains(&status) {
            let detail = serde_json::from_slice::<ErrorBody>(&body).ok().map(|b| b.error);
            let mut error = GatewayError::answered(
                operation,
                status,
                request_id,
                detail.as_ref().and_then(|d| d.error_type.clone()),
                detail.as_ref().and_then(|d| d.code.clone()),
                detail.as_ref().and_then(|d| d.message.clone()).unwrap_or_else(|| format!("HTTP {status} without a Stripe error body")),
            );
            error.payment_intent_id = detail.and_then(|d| d.payment_intent).map(|pi| pi.id.into_boxed_str());
            return Err(error);
        }
        Ok(Raw { body, replayed })
    }

    fn http_request(
        &self,
        request: &Prepared,
        idempotency_key: Option<&IdempotencyKey>,
    ) -> Result<Request<Full<Bytes>>, hyper::http::Error> {
        let mut builder = Request::builder()
            .method(request.method.clone())
            .uri(request.uri.as_str())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(USER_AGENT, USER_AGENT_VALUE)
            // The API version the request builders were generated for, as async-stripe sends it.
            .header(HeaderName::from_static("stripe-version"), stripe_client_core::VERSION.as_str());
        if let Some(key) = idempotency_key {
            builder = builder.header(HeaderName::from_static("idempotency-key"), key.as_str());
        }
        if request.form.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        builder.body(Full::new(request.form.clone().unwrap_or_default()))
    }
}

/// A request as sent: built once, sent by every attempt.
pub(super) struct Prepared {
    method: Method,
    uri: String,
    form: Option<Bytes>,
}

/// A successful answer's body, not yet read.
pub(super) struct Raw {
    body: Bytes,
    replayed: bool,
}

impl Raw {
    /// The answer read into `T`.
    pub(super) fn decode<T: DeserializeOwned>(self, operation: &'static str) -> Result<Answer<T>, GatewayError> {
        let value = serde_json::from_slice(&self.body)
            .map_err(|e| GatewayError::local(operation, format!("unexpected answer from Stripe: {e}")))?;
        Ok(Answer { value, replayed: self.replayed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_secret_key_is_named_as_the_key_not_the_base_url() {
        let base = url::Url::parse("https://api.stripe.com/").expect("url");
        let Err(error) = StripeHttp::new("sk_test_\nbroken", &base) else { panic!("a key with a newline was accepted") };
        let text = error.to_string();
        assert!(text.contains("STRIPE_SECRET_KEY") && !text.contains("STRIPE_API_BASE"), "{text}");
        assert!(!text.contains("broken"), "the key leaked into the error: {text}");
    }
}
