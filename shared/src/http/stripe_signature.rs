//! The `Stripe-Signature` of a webhook delivery, checked as Stripe specifies (HMAC-SHA256 of
//! `"{t}.{body}"` over the raw body, constant-time, any `v1` entry, 300 s tolerance) against every
//! active signing secret: the webhook route's authentication, as the bearer key is the others'.
//! async-stripe's `construct_event` does the same check but then decodes the event into its
//! 440-variant `EventObject`, linking all of Stripe's objects (about 6 MB); the unit tests below
//! sign with async-stripe's own `generate_test_header`, so both agree on the scheme.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::domain::events::VerifiedEvent;
use crate::error::{ApiError, ErrorKind};

const TOLERANCE_SECONDS: i64 = 300;

fn invalid(message: &str) -> ApiError {
    ApiError::new(ErrorKind::InvalidSignature, message)
}

/// The header's timestamp and its `v1` signatures (hex), or `None` when it is not of that form.
fn parse_header(header: &str) -> Option<(i64, Vec<Vec<u8>>)> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for pair in header.split(',') {
        match pair.trim().split_once('=')? {
            ("t", value) => timestamp = Some(value.parse().ok()?),
            // An entry that is not hex cannot match; other entries may still.
            ("v1", value) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    Some((timestamp?, signatures))
}

fn signed_by(secret: &str, timestamp: i64, payload: &str, signatures: &[Vec<u8>]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(format!("{timestamp}.{payload}").as_bytes());
    signatures.iter().any(|signature| mac.clone().verify_slice(signature).is_ok())
}

/// Verifies `payload` (the raw body bytes as delivered) against each secret (two during a
/// rotation), at `now` (epoch seconds).
pub fn verify_stripe_signature(payload: &[u8], signature: Option<&str>, secrets: &[String], now: i64) -> Result<VerifiedEvent, ApiError> {
    let signature = signature.ok_or_else(|| invalid("The Stripe-Signature header is missing."))?;
    let payload = std::str::from_utf8(payload).map_err(|_| invalid("The body is not UTF-8 text."))?;
    if secrets.is_empty() {
        // Not the sender's fault: 503, so Stripe delivers it again once the secret is filled in.
        tracing::error!("no webhook signing secret is configured: put the endpoint's whsec_... into stripe_webhook_secrets");
        return Err(ApiError::stripe_unavailable());
    }
    let (timestamp, signatures) = parse_header(signature).ok_or_else(|| invalid("The Stripe-Signature header is malformed."))?;
    if !secrets.iter().any(|secret| signed_by(secret, timestamp, payload, &signatures)) {
        return Err(invalid("The Stripe-Signature does not match the body."));
    }
    // Checked after the signature, so the timestamp a client learns about is one Stripe signed.
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(invalid("The Stripe-Signature timestamp is outside the 300 s tolerance."));
    }
    parse(payload)
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
    use stripe_webhook::Webhook;

    use super::*;

    #[test]
    fn signature_is_checked_against_every_active_secret() {
        let now = crate::now();
        let payload = r#"{"id":"evt_1","type":"invoice.paid","created":1,"data":{"object":{"id":"in_1"}}}"#;
        let secrets = vec!["whsec_new".to_string(), "whsec_old".to_string()];
        for secret in ["whsec_new", "whsec_old"] {
            let header = Webhook::generate_test_header(payload, secret, None);
            assert_eq!(verify_stripe_signature(payload.as_bytes(), Some(&header), &secrets, now).unwrap().id, "evt_1");
        }
        let wrong = Webhook::generate_test_header(payload, "whsec_other", None);
        let err = verify_stripe_signature(payload.as_bytes(), Some(&wrong), &secrets, now).unwrap_err();
        assert_eq!((err.kind, err.message.contains("does not match")), (ErrorKind::InvalidSignature, true));
        let stale = Webhook::generate_test_header(payload, "whsec_new", Some(now - 301));
        assert!(verify_stripe_signature(payload.as_bytes(), Some(&stale), &secrets, now).unwrap_err().message.contains("tolerance"));
        assert!(verify_stripe_signature(payload.as_bytes(), Some("t=abc,v1=00"), &secrets, now).unwrap_err().message.contains("malformed"));
        assert!(verify_stripe_signature(payload.as_bytes(), None, &secrets, now).unwrap_err().message.contains("missing"));
        let tampered = payload.replace("in_1", "in_2");
        let header = Webhook::generate_test_header(payload, "whsec_new", None);
        assert_eq!(
            verify_stripe_signature(tampered.as_bytes(), Some(&header), &secrets, now).unwrap_err().kind,
            ErrorKind::InvalidSignature
        );
    }
}
