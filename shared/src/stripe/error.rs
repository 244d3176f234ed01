//! A Stripe call that failed, in the gateway's own terms: Stripe's status, error type, code and
//! request id when Stripe answered, or what kept it from answering. `crate::error` turns it into
//! the API's 502 envelope; callers that can tell a client mistake (a refused id) look first.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {description}")]
pub struct GatewayError {
    pub operation: &'static str,
    /// Stripe's HTTP status, when Stripe answered.
    pub status: Option<u16>,
    // Boxed (as is `payment_intent_id`): this error travels in every gateway `Result`.
    pub error_type: Option<Box<str>>,
    pub code: Option<Box<str>>,
    /// Stripe's request id (`req_...`), for support.
    pub request_id: Option<String>,
    /// For logs only: never shown to API clients.
    pub description: String,
    /// The payment intent a refused card payment (`card_error`) left behind.
    pub payment_intent_id: Option<Box<str>>,
    retryable: bool,
}

impl GatewayError {
    /// Stripe answered with an error status (its error body read into `error_type`, `code` and
    /// `description`); 429 and 5xx are worth another attempt.
    pub fn answered(
        operation: &'static str,
        status: u16,
        request_id: Option<String>,
        error_type: Option<String>,
        code: Option<String>,
        description: String,
    ) -> Self {
        let retryable = status == 429 || status >= 500;
        Self {
            operation,
            status: Some(status),
            error_type: error_type.map(String::into_boxed_str),
            code: code.map(String::into_boxed_str),
            request_id,
            description,
            payment_intent_id: None,
            retryable,
        }
    }

    /// No answer: the connection failed or the attempt timed out. The same call (under the same
    /// idempotency key) may succeed in a moment.
    pub fn unreachable(operation: &'static str, description: impl Into<String>) -> Self {
        Self {
            operation,
            status: None,
            error_type: None,
            code: None,
            request_id: None,
            description: description.into(),
            payment_intent_id: None,
            retryable: true,
        }
    }

    /// A failure on our side of the call (a request we could not build, an answer without a
    /// field Stripe always sends): not worth a retry.
    pub fn local(operation: &'static str, description: impl Into<String>) -> Self {
        Self { retryable: false, ..Self::unreachable(operation, description) }
    }

    /// 429, 5xx, timeouts and connection errors: the same call may succeed in a moment.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// Stripe answered that it did not apply the request (a 4xx that is neither a lock, a rate
    /// limit nor a key reused with other parameters): a write it refused changed nothing.
    pub fn is_refusal(&self) -> bool {
        matches!(self.status, Some(400..=499))
            && !matches!(self.status, Some(409 | 429))
            && self.error_type.as_deref() != Some("idempotency_error")
    }

    /// Stripe refused the id it was given (400 or 404): the caller's mistake, not an outage.
    pub fn is_refused_id(&self) -> bool {
        matches!(self.status, Some(400 | 404))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16) -> GatewayError {
        GatewayError::answered("op", status, Some("req_abc123".into()), Some("api_error".into()), None, "boom".into())
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        assert!(answered(429).is_retryable());
        assert!(answered(500).is_retryable());
        assert!(answered(503).is_retryable());
        assert!(GatewayError::unreachable("op", "connection refused").is_retryable());
        assert!(!answered(400).is_retryable());
        assert!(!answered(402).is_retryable());
        assert!(!GatewayError::local("op", "bad answer").is_retryable());
        assert!(answered(402).is_refusal() && answered(400).is_refusal());
        assert!(!answered(409).is_refusal() && !answered(429).is_refusal() && !answered(500).is_refusal());
        assert!(!GatewayError::unreachable("op", "timeout").is_refusal());
        assert!(answered(404).is_refused_id() && !answered(500).is_refused_id());
        assert!(!GatewayError::unreachable("op", "timeout").is_refused_id());
    }
}
