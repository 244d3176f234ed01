//! A Stripe call that failed, in the gateway's own terms: Stripe's status, error type, code and
//! request id when Stripe answered, or what kept it from answering. `crate::error` turns it into
//! the API's 502 envelope; callers that can tell a client mistake (a refused id) look first.

use stripe::StripeError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {description}")]
pub struct GatewayError {
    pub operation: &'static str,
    /// Stripe's HTTP status, when Stripe answered.
    pub status: Option<u16>,
    pub error_type: Option<String>,
    pub code: Option<String>,
    /// Stripe's request id (`req_...`), for support.
    pub request_id: Option<String>,
    /// For logs only: never shown to API clients.
    pub description: String,
    retryable: bool,
}

impl GatewayError {
    pub fn from_stripe(operation: &'static str, err: &StripeError) -> Self {
        let (status, error_type, code, request_id) = match err {
            StripeError::Stripe(api, status) => (
                Some(*status),
                Some(api.type_.as_str().to_string()),
                api.code.as_ref().map(|c| c.as_str().to_string()),
                api.request_log_url.as_deref().and_then(request_id_of_log_url),
            ),
            _ => (None, None, None, None),
        };
        let retryable = match err {
            StripeError::Stripe(_, status) => *status == 429 || *status >= 500,
            StripeError::ClientError(_) | StripeError::Timeout => true,
            StripeError::JSONDeserialize(_) | StripeError::ConfigError(_) => false,
        };
        Self { operation, status, error_type, code, request_id, description: err.to_string(), retryable }
    }

    /// A failure on our side of the call (a request we could not build, an answer without a
    /// field Stripe always sends): not worth a retry.
    pub fn local(operation: &'static str, description: impl Into<String>) -> Self {
        Self { operation, status: None, error_type: None, code: None, request_id: None, description: description.into(), retryable: false }
    }

    /// 429, 5xx, timeouts and connection errors: the same call may succeed in a moment.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// Stripe refused the id it was given (400 or 404): the caller's mistake, not an outage.
    pub fn is_refused_id(&self) -> bool {
        matches!(self.status, Some(400 | 404))
    }
}

/// Stripe's request id, from the `request_log_url` of its error body.
fn request_id_of_log_url(url: &str) -> Option<String> {
    url.split(['/', '?']).find(|part| part.starts_with("req_")).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe_error(json: &str, status: u16) -> StripeError {
        StripeError::Stripe(Box::new(miniserde::json::from_str(json).expect("a Stripe error body")), status)
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        let api = |status| GatewayError::from_stripe("op", &stripe_error(r#"{"type":"api_error"}"#, status));
        assert!(api(429).is_retryable());
        assert!(api(500).is_retryable());
        assert!(api(503).is_retryable());
        assert!(GatewayError::from_stripe("op", &StripeError::Timeout).is_retryable());
        assert!(GatewayError::from_stripe("op", &StripeError::ClientError("connection refused".into())).is_retryable());
        assert!(!api(400).is_retryable());
        assert!(!api(402).is_retryable());
        assert!(!GatewayError::from_stripe("op", &StripeError::JSONDeserialize("bad".into())).is_retryable());
        assert!(api(404).is_refused_id() && !api(500).is_refused_id());
    }

    #[test]
    fn stripe_request_id_comes_from_the_log_url() {
        let err = stripe_error(
            r#"{"type":"api_error","code":"resource_missing","request_log_url":"https://dashboard.stripe.com/test/logs/req_abc123?t=1"}"#,
            500,
        );
        let err = GatewayError::from_stripe("create_customer", &err);
        assert_eq!(err.request_id.as_deref(), Some("req_abc123"));
        assert_eq!((err.status, err.error_type.as_deref(), err.code.as_deref()), (Some(500), Some("api_error"), Some("resource_missing")));
    }
}
