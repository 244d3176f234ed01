//! The `Stripe-Signature` of a webhook delivery, checked with async-stripe-webhook (HMAC-SHA256
//! over the raw body, constant-time, any `v1` entry, 300 s tolerance) against every active
//! signing secret: the webhook route's authentication, as the bearer key is the others'.

use serde_json::Value;
use stripe_webhook::{Webhook, WebhookError};

use crate::domain::events::VerifiedEvent;
use crate::error::{ApiError, ErrorKind};

fn invalid(message: &str) -> ApiError {
    ApiError::new(ErrorKind::InvalidSignature, message)
}

/// Verifies `payload` (the raw body bytes as delivered) against each secret (two during a rotation).
pub fn verify_stripe_signature(payload: &[u8], signature: Option<&str>, secrets: &[String]) -> Result<VerifiedEvent, ApiError> {
    let signature = signature.ok_or_else(|| invalid("The Stripe-Signature header is missing."))?;
    let payload = std::str::from_utf8(payload).map_err(|_| invalid("The body is not UTF-8 text."))?;
    if secrets.is_empty() {
        return Err(ApiError::internal("No webhook signing secret is configured."));
    }
    let mut stale = false;
    let mut malformed = false;
    for secret in secrets {
        match Webhook::construct_event(payload, signature, secret) {
            // A parse failure comes only after the signature and timestamp checked out: the
            // event is Stripe's, so it is read with serde_json below rather than refused.
            Ok(_) | Err(WebhookError::BadParse(_)) => return parse(payload),
            Err(WebhookError::BadTimestamp(_)) => stale = true,
            Err(WebhookError::BadHeader(_) | WebhookError::BadKey) => malformed = true,
            Err(_) => {}
        }
    }
    Err(match (stale, malformed) {
        (true, _) => invalid("The Stripe-Signature timestamp is outside the 300 s tolerance."),
        (_, true) => invalid("The Stripe-Signature header is malformed."),
        _ => invalid("The Stripe-Signature does not match the body."),
    })
}

fn parse(payload: &str) -> Result<VerifiedEvent, ApiError> {
    let event: Value =
        serde_json::from_str(payload).map_err(|e| ApiError::new(ErrorKind::MalformedJson, format!("The event is not valid JSON: {e}.")))?;
    let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_string);
    match (text("id"), text("type"), event.get("created").and_then(Value::as_i64)) {
        (Some(id), Some(event_type), Some(created)) => {
            Ok(VerifiedEvent { id, event_type, created, object: event["data"]["object"].clone() })
        }
        _ => Err(ApiError::field("event", "must have id, type and created")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_checked_against_every_active_secret() {
        let payload = r#"{"id":"evt_1","type":"invoice.paid","created":1,"data":{"object":{"id":"in_1"}}}"#;
        let secrets = vec!["whsec_new".to_string(), "whsec_old".to_string()];
        for secret in ["whsec_new", "whsec_old"] {
            let header = Webhook::generate_test_header(payload, secret, None);
            assert_eq!(verify_stripe_signature(payload.as_bytes(), Some(&header), &secrets).unwrap().id, "evt_1");
        }
        let wrong = Webhook::generate_test_header(payload, "whsec_other", None);
        let err = verify_stripe_signature(payload.as_bytes(), Some(&wrong), &secrets).unwrap_err();
        assert_eq!((err.kind, err.message.contains("does not match")), (ErrorKind::InvalidSignature, true));
        let stale = Webhook::generate_test_header(payload, "whsec_new", Some(crate::now() - 301));
        assert!(verify_stripe_signature(payload.as_bytes(), Some(&stale), &secrets).unwrap_err().message.contains("tolerance"));
        assert!(verify_stripe_signature(payload.as_bytes(), Some("t=abc,v1=00"), &secrets).unwrap_err().message.contains("malformed"));
        assert!(verify_stripe_signature(payload.as_bytes(), None, &secrets).unwrap_err().message.contains("missing"));
        let tampered = payload.replace("in_1", "in_2");
        let header = Webhook::generate_test_header(payload, "whsec_new", None);
        assert_eq!(verify_stripe_signature(tampered.as_bytes(), Some(&header), &secrets).unwrap_err().kind, ErrorKind::InvalidSignature);
    }
}
