//! Stripe's error responses: `{"error": {"type", "message", "param"?, "code"?, "doc_url"?}}`
//! with the matching HTTP status. Clients (async-stripe included) branch on `type`, `code` and
//! the status, so each constructor mirrors the case Stripe itself reports.

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StripeApiError {
    pub(crate) status: u16,
    kind: &'static str,
    message: String,
    param: Option<String>,
    code: Option<&'static str>,
    /// Further fields of the error object: a card error's `decline_code`, `payment_intent`...
    extra: Map<String, Value>,
}

impl StripeApiError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into(), param: None, code: None, extra: Map::new() }
    }

    fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// What Stripe tells the caller, as a hosted page shows it.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// A 400 `invalid_request_error` about one parameter, without a specific code.
    pub(crate) fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message).with_param(param)
    }

    /// A 400 `invalid_request_error` that is not about one parameter.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message)
    }

    pub(crate) fn missing(param: &str) -> Self {
        Self::invalid(param, format!("Missing required param: {param}.")).with_code("parameter_missing")
    }

    pub(crate) fn unknown_param(param: &str) -> Self {
        Self::invalid(param, format!("Received unknown parameter: {param}")).with_code("parameter_unknown")
    }

    pub(crate) fn invalid_integer(param: &str, value: &str) -> Self {
        Self::invalid(param, format!("Invalid integer: {value}")).with_code("parameter_invalid_integer")
    }

    /// `No such customer: 'cus_x'`. Stripe answers 404 when the id is in the URL and 400 when
    /// it is a parameter of another request, so the caller picks the status.
    pub(crate) fn no_such(status: u16, resource: &str, id: &str, param: &str) -> Self {
        Self::new(status, "invalid_request_error", format!("No such {resource}: '{id}'")).with_param(param).with_code("resource_missing")
    }

    pub(crate) fn unrecognized_url(method: &str, path: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
        )
    }

    pub(crate) fn missing_api_key() -> Self {
        Self::new(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, \
             using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication \
             for details, or we can help at https://support.stripe.com/.",
        )
    }

    pub(crate) fn invalid_api_key(key: &str) -> Self {
        // Stripe echoes the key's kind prefix (`sk_live_`) and masks all but its last four characters.
        let prefix = key.match_indices('_').nth(1).map_or("", |(i, _)| &key[..=i]);
        let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        Self::new(401, "invalid_request_error", format!("Invalid API Key provided: {prefix}****{tail}")).with_code("api_key_invalid")
    }

    pub(crate) fn idempotency_mismatch(key: &str) -> Self {
        Self::new(
            400,
            "idempotency_error",
            format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. \
                 Try using a key other than '{key}' if you meant to execute a different request."
            ),
        )
    }

    /// The answer for a failure injected with `Standin::fail_next`: 429 is Stripe's rate limit
    /// error, anything 5xx an `api_error`, anything else a generic request error.
    pub(crate) fn injected(status: u16) -> Self {
        match status {
            429 => Self::new(
                429,
                "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            )
            .with_code("rate_limit"),
            500..=599 => Self::new(status, "api_error", "An unknown error occurred (injected by the Stripe stand-in)."),
            _ => Self::new(status, "invalid_request_error", "Request failed (injected by the Stripe stand-in)."),
        }
    }

    /// A 402 `card_error`: the card refused a confirmation (`code` `card_declined`,
    /// `authentication_required`...). `object` is Stripe's error object as the payment intent's
    /// `last_payment_error` shows it; the error adds the payment intent itself.
    pub(crate) fn card_error(object: &Value, payment_intent: Value) -> Self {
        let text = |key: &str| object[key].as_str().unwrap_or_default().to_string();
        let code = match object["code"].as_str() {
            Some("authentication_required") => "authentication_required",
            _ => "card_declined",
        };
        let mut error = Self::new(402, "card_error", text("message")).with_code(code);
        if let Value::Object(fields) = object {
            for (key, value) in fields {
                if !matches!(key.as_str(), "type" | "message" | "code" | "doc_url") {
                    error.extra.insert(key.clone(), value.clone());
                }
            }
        }
        error.extra.insert("payment_intent".into(), payment_intent);
        error
    }

    pub(crate) fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind));
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        if let Some(code) = self.code {
            error.insert("code".into(), json!(code));
            error.insert("doc_url".into(), json!(format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-"))));
        }
        for (key, value) in &self.extra {
            error.insert(key.clone(), value.clone());
        }
        json!({ "error": error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_stripe_shape() {
        let body = StripeApiError::no_such(400, "price", "price_x", "line_items[0][price]").body();
        assert_eq!(
            body,
            json!({"error": {
                "type": "invalid_request_error",
                "message": "No such price: 'price_x'",
                "param": "line_items[0][price]",
                "code": "resource_missing",
                "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            }})
        );
        let body = StripeApiError::injected(500).body();
        assert_eq!(body["error"]["type"], "api_error");
        assert!(body["error"].get("param").is_none());
    }

    #[test]
    fn rejected_keys_are_masked() {
        let message = StripeApiError::invalid_api_key("sk_live_abcdef1234").body()["error"]["message"].clone();
        assert_eq!(message, "Invalid API Key provided: sk_live_****1234");
    }
}
