//! The one error type of the API and its one JSON envelope:
//! `{"error": "<type>", "message": "...", "details": {...}?, "request_id": "..."}`.
//!
//! The use cases answer in `ApiError`; the store's and the Stripe gateway's own errors, and the
//! pure rules' `Invalid`, become one here, at this one edge (`From`), and nowhere else.

use std::borrow::Cow;

use serde::{Serialize, Serializer};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::invalid::{FieldProblem, Invalid};
use crate::retry::Failure;
use crate::store::StoreError;
use crate::stripe::GatewayError;

/// Every error kind the API answers with. The snake_case name is part of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    ValidationFailed,
    MalformedJson,
    InvalidSignature,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    SubscriptionExists,
    CheckoutInProgress,
    NoStripeCustomer,
    PaymentFailed,
    ChangeInProgress,
    InvalidConfirmToken,
    ApprovalNotPending,
    SlowDown,
    AgentPaused,
    PlanLimitReached,
    InsufficientCredits,
    MandateLimitReached,
    MandateExists,
    NotTrialing,
    InvalidPromotionCode,
    IdempotencyKeyReused,
    StripeError,
    StorageUnavailable,
    ServiceUnavailable,
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 30] = [
        Self::ValidationFailed,
        Self::MalformedJson,
        Self::InvalidSignature,
        Self::UnsupportedMediaType,
        Self::PayloadTooLarge,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::SubscriptionExists,
        Self::CheckoutInProgress,
        Self::NoStripeCustomer,
        Self::PaymentFailed,
        Self::ChangeInProgress,
        Self::InvalidConfirmToken,
        Self::ApprovalNotPending,
        Self::SlowDown,
        Self::AgentPaused,
        Self::PlanLimitReached,
        Self::InsufficientCredits,
        Self::MandateLimitReached,
        Self::MandateExists,
        Self::NotTrialing,
        Self::InvalidPromotionCode,
        Self::IdempotencyKeyReused,
        Self::StripeError,
        Self::StorageUnavailable,
        Self::ServiceUnavailable,
        Self::Internal,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::ValidationFailed => "validation_failed",
            Self::MalformedJson => "malformed_json",
            Self::InvalidSignature => "invalid_signature",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::SubscriptionExists => "subscription_exists",
            Self::CheckoutInProgress => "checkout_in_progress",
            Self::NoStripeCustomer => "no_stripe_customer",
            Self::PaymentFailed => "payment_failed",
            Self::ChangeInProgress => "change_in_progress",
            Self::InvalidConfirmToken => "invalid_confirm_token",
            Self::ApprovalNotPending => "approval_not_pending",
            Self::SlowDown => "slow_down",
            Self::AgentPaused => "agent_paused",
            Self::PlanLimitReached => "plan_limit_reached",
            Self::InsufficientCredits => "insufficient_credits",
            Self::MandateLimitReached => "mandate_limit_reached",
            Self::MandateExists => "mandate_exists",
            Self::NotTrialing => "not_trialing",
            Self::InvalidPromotionCode => "invalid_promotion_code",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::StripeError => "stripe_error",
            Self::StorageUnavailable => "storage_unavailable",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Internal => "internal_error",
        }
    }

    /// The kind of a stable code (a stored answer being replayed).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.code() == code)
    }

    pub fn status(self) -> u16 {
        match self {
            Self::ValidationFailed
            | Self::MalformedJson
            | Self::InvalidSignature
            | Self::InvalidConfirmToken
            | Self::InvalidPromotionCode => 400,
            Self::Unauthorized => 401,
            Self::PaymentFailed | Self::PlanLimitReached | Self::InsufficientCredits | Self::MandateLimitReached => 402,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict
            | Self::SubscriptionExists
            | Self::CheckoutInProgress
            | Self::NoStripeCustomer
            | Self::ChangeInProgress
            | Self::ApprovalNotPending
            | Self::MandateExists
            | Self::NotTrialing => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::IdempotencyKeyReused => 422,
            Self::SlowDown | Self::AgentPaused => 429,
            Self::Internal => 500,
            Self::StripeError => 502,
            Self::StorageUnavailable | Self::ServiceUnavailable => 503,
        }
    }
}

/// On the wire an error kind is its stable code.
impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// The documented `error` values are `ALL`'s codes, so a new kind is documented as it is added.
impl PartialSchema for ErrorKind {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("The stable error type: what a client branches on (the HTTP status follows from it)."))
            .enum_values(Some(Self::ALL.map(Self::code)))
            .into()
    }
}

impl ToSchema for ErrorKind {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorType")
    }
}

/// The body of every 4xx and 5xx answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope<'a> {
    pub error: ErrorKind,
    /// For a person: what went wrong and the next step.
    pub message: &'a str,
    /// Facts a client can act on, by error type: `fields[]` (each a `FieldProblem`) for
    /// `validation_failed`, a `PlanLimitReached` (the cap and the next steps) for
    /// `plan_limit_reached`, the balance for `insufficient_credits`, `reason` for
    /// `invalid_confirm_token`, Stripe's ids for `stripe_error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<&'a Value>,
    /// API Gateway's request id, also in the `apigw-requestid` response header.
    pub request_id: &'a str,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn validation(fields: Vec<FieldProblem>) -> Self {
        let message = match fields.as_slice() {
            [one] => format!("Invalid request: `{}` {}.", one.field, one.problem),
            _ => format!("Invalid request: {} fields have problems.", fields.len()),
        };
        Self::new(ErrorKind::ValidationFailed, message).with_details(json!({ "fields": fields }))
    }

    pub fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::validation(vec![FieldProblem::new(field, problem)])
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorKind::Unauthorized, "A valid API key is required: send `Authorization: Bearer <key>`.")
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, what)
    }

    pub fn storage(operation: &str) -> Self {
        Self::new(
            ErrorKind::StorageUnavailable,
            format!("Billing storage is unavailable ({operation}); nothing was changed. Retry shortly."),
        )
    }

    /// A read-modify-write that kept losing to concurrent writers.
    pub fn contended() -> Self {
        Self::new(ErrorKind::Conflict, "The org changed concurrently; retry the request.")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    /// A function whose Stripe secrets could not be loaded at start, or that has none to check a
    /// webhook signature with.
    pub fn stripe_unavailable() -> Self {
        Self::new(
            ErrorKind::ServiceUnavailable,
            "Billing cannot reach Stripe right now: this deployment's Stripe credentials are missing or could not be loaded. Nothing was changed; retry later.",
        )
    }

    /// An AGENT key the brake paused (`domain::brake`), for `retry_after` more seconds.
    pub fn agent_paused(paused_until: i64, retry_after: u64) -> Self {
        Self::new(
            ErrorKind::AgentPaused,
            format!(
                "This agent key is paused for {retry_after} s: too many of its requests were refused within a minute. \
                 Nothing was done. A human of the org can resume it earlier (POST /billing/agents/{{key_id}}/resume)."
            ),
        )
        .with_details(json!({ "paused_until": paused_until, "retry_after": retry_after }))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// Seconds a client is asked to wait before calling again (`Retry-After`), for `slow_down`,
    /// for a paused agent key and for a plan change whose outcome is being confirmed.
    pub fn retry_after(&self) -> Option<u64> {
        match self.kind {
            ErrorKind::SlowDown => self.details.as_ref().and_then(|d| d["interval"].as_u64()),
            ErrorKind::ChangeInProgress | ErrorKind::AgentPaused => self.details.as_ref().and_then(|d| d["retry_after"].as_u64()),
            _ => None,
        }
    }

    /// The envelope body, as every 4xx and 5xx answer carries it.
    pub fn envelope(&self, request_id: &str) -> Value {
        let envelope = ErrorEnvelope { error: self.kind, message: &self.message, details: self.details.as_ref(), request_id };
        serde_json::to_value(envelope).unwrap_or(Value::Null)
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self::validation(invalid.problems)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { .. } => Self::contended(),
            StoreError::Unavailable { operation } => Self::storage(operation),
            StoreError::Corrupt { operation, problem } => {
                tracing::error!(operation, problem, "stored item is corrupt");
                Self::internal(format!("A stored item could not be read ({operation})."))
            }
        }
    }
}

impl From<GatewayError> for ApiError {
    fn from(err: GatewayError) -> Self {
        let mut details = json!({ "operation": err.operation });
        if let Some(status) = err.status {
            details["stripe_status"] = json!(status);
        }
        if let Some(error_type) = &err.error_type {
            details["stripe_error_type"] = json!(error_type);
        }
        if let Some(code) = &err.code {
            details["stripe_code"] = json!(code);
        }
        if let Some(id) = &err.request_id {
            details["stripe_request_id"] = json!(id);
        }
        Self::new(ErrorKind::StripeError, format!("Stripe could not complete {}; nothing was changed. Retry shortly.", err.operation))
            .with_details(details)
    }
}

/// Inside a read-modify-write attempt a lost conditional write is worth another attempt;
/// everything else ends it.
impl From<StoreError> for Failure<ApiError> {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { .. } => Failure::Transient(ApiError::contended()),
            other => Failure::Permanent(other.into()),
        }
    }
}

impl From<GatewayError> for Failure<ApiError> {
    fn from(err: GatewayError) -> Self {
        Failure::Permanent(err.into())
    }
}

impl From<ApiError> for Failure<ApiError> {
    fn from(err: ApiError) -> Self {
        Failure::Permanent(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_carries_type_message_details_and_request_id() {
        let err = ApiError::field("plan", "is not a plan of the catalog");
        let body = err.envelope("req-1");
        assert_eq!(body["error"], "validation_failed");
        assert_eq!(body["request_id"], "req-1");
        assert_eq!(body["details"]["fields"][0]["field"], "plan");
        assert_eq!(body["details"]["fields"][0]["problem"], "is not a plan of the catalog");
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn envelope_without_details_has_no_details_key() {
        let body = ApiError::unauthorized().envelope("r");
        assert!(body.get("details").is_none());
        assert_eq!(body["error"], "unauthorized");
    }

    #[test]
    fn every_kind_has_a_distinct_code() {
        let kinds = ErrorKind::ALL;
        let codes: std::collections::BTreeSet<_> = kinds.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), kinds.len());
        assert!(kinds.iter().all(|k| k.status() >= 400));
        assert!(kinds.iter().all(|k| ErrorKind::from_code(k.code()) == Some(*k)));
    }
}
