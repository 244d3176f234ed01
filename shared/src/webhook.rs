//! Stripe webhook deliveries: verify the signature (async-stripe-webhook: HMAC-SHA256 over the
//! raw body, constant-time, any `v1` entry, 300 s tolerance) against every active signing
//! secret, then classify the event into the one effect it has on an org.

use serde_json::Value;
use stripe_webhook::{Webhook, WebhookError};

use crate::error::{ApiError, ErrorKind};

/// A delivery whose signature checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEvent {
    pub id: String,
    pub event_type: String,
    pub created: i64,
    pub object: Value,
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(ErrorKind::InvalidSignature, message)
}

/// Verifies `payload` (the raw body bytes as delivered) against each secret (two during a rotation).
pub fn verify(payload: &[u8], signature: Option<&str>, secrets: &[String]) -> Result<VerifiedEvent, ApiError> {
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

/// What an event does to the org of `customer_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Re-read the subscription from Stripe and write its current state: whatever order
    /// events arrive in, the org ends up with Stripe's latest state.
    SyncSubscription {
        customer_id: String,
        subscription_id: String,
    },
    /// Grant a paid credits Checkout Session's credits, once per session.
    GrantCredits {
        customer_id: String,
        session_id: String,
        credits: u64,
    },
    /// Record the failure, then sync the subscription (it goes past_due).
    PaymentFailed {
        customer_id: String,
        subscription_id: Option<String>,
        message: String,
    },
    CustomerDeleted {
        customer_id: String,
    },
    Ignore(String),
}

fn id_of(value: &Value) -> Option<String> {
    value.as_str().or_else(|| value.get("id").and_then(Value::as_str)).map(str::to_string)
}

/// The subscription of an invoice, in the current and in older API versions.
fn invoice_subscription(invoice: &Value) -> Option<String> {
    id_of(&invoice["parent"]["subscription_details"]["subscription"]).or_else(|| id_of(&invoice["subscription"]))
}

pub fn effect(event: &VerifiedEvent) -> Effect {
    let object = &event.object;
    let Some(customer_id) =
        id_of(&object["customer"]).or_else(|| (event.event_type == "customer.deleted").then(|| id_of(&object["id"])).flatten())
    else {
        return Effect::Ignore(format!("{} has no customer", event.event_type));
    };
    match event.event_type.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let paid = object["payment_status"] == "paid";
            match (object["mode"].as_str(), id_of(&object["subscription"])) {
                (Some("subscription"), Some(subscription_id)) => Effect::SyncSubscription { customer_id, subscription_id },
                (Some("payment"), _) if !paid => Effect::Ignore("checkout session not paid yet".into()),
                (Some("payment"), _) if object["metadata"]["purpose"] == "credits" => {
                    match (id_of(&object["id"]), object["metadata"]["credits"].as_str().and_then(|c| c.parse().ok())) {
                        (Some(session_id), Some(credits)) => Effect::GrantCredits { customer_id, session_id, credits },
                        _ => Effect::Ignore("credits session without a credit count".into()),
                    }
                }
                _ => Effect::Ignore("checkout session of no known purpose".into()),
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => match id_of(&object["id"]) {
            Some(subscription_id) => Effect::SyncSubscription { customer_id, subscription_id },
            None => Effect::Ignore("subscription without id".into()),
        },
        "invoice.paid" => match invoice_subscription(object) {
            Some(subscription_id) => Effect::SyncSubscription { customer_id, subscription_id },
            None => Effect::Ignore("invoice of no subscription".into()),
        },
        "invoice.payment_failed" => {
            let number = object["number"].as_str().or(object["id"].as_str()).unwrap_or("an invoice");
            let attempt = object["attempt_count"].as_i64().unwrap_or(1);
            Effect::PaymentFailed {
                customer_id,
                subscription_id: invoice_subscription(object),
                message: format!("Payment of {number} failed (attempt {attempt})."),
            }
        }
        "customer.deleted" => Effect::CustomerDeleted { customer_id },
        other => Effect::Ignore(format!("{other} is not an event this API acts on")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(event_type: &str, object: Value) -> VerifiedEvent {
        VerifiedEvent { id: "evt_1".into(), event_type: event_type.into(), created: 1, object }
    }

    #[test]
    fn signature_is_checked_against_every_active_secret() {
        let payload = r#"{"id":"evt_1","type":"invoice.paid","created":1,"data":{"object":{"id":"in_1"}}}"#;
        let secrets = vec!["whsec_new".to_string(), "whsec_old".to_string()];
        for secret in ["whsec_new", "whsec_old"] {
            let header = Webhook::generate_test_header(payload, secret, None);
            assert_eq!(verify(payload.as_bytes(), Some(&header), &secrets).unwrap().id, "evt_1");
        }
        let wrong = Webhook::generate_test_header(payload, "whsec_other", None);
        let err = verify(payload.as_bytes(), Some(&wrong), &secrets).unwrap_err();
        assert_eq!((err.kind, err.message.contains("does not match")), (ErrorKind::InvalidSignature, true));
        let stale = Webhook::generate_test_header(payload, "whsec_new", Some(crate::now() - 301));
        assert!(verify(payload.as_bytes(), Some(&stale), &secrets).unwrap_err().message.contains("tolerance"));
        assert!(verify(payload.as_bytes(), Some("t=abc,v1=00"), &secrets).unwrap_err().message.contains("malformed"));
        assert!(verify(payload.as_bytes(), None, &secrets).unwrap_err().message.contains("missing"));
        let tampered = payload.replace("in_1", "in_2");
        let header = Webhook::generate_test_header(payload, "whsec_new", None);
        assert_eq!(verify(tampered.as_bytes(), Some(&header), &secrets).unwrap_err().kind, ErrorKind::InvalidSignature);
    }

    #[test]
    fn events_map_to_their_effect() {
        let sync = |sub: &str| Effect::SyncSubscription { customer_id: "cus_1".into(), subscription_id: sub.into() };
        assert_eq!(effect(&event("customer.subscription.updated", json!({"id": "sub_1", "customer": "cus_1"}))), sync("sub_1"));
        assert_eq!(effect(&event("customer.subscription.deleted", json!({"id": "sub_1", "customer": "cus_1"}))), sync("sub_1"));
        let invoice = json!({"id": "in_1", "customer": "cus_1", "parent": {"subscription_details": {"subscription": "sub_2"}}});
        assert_eq!(effect(&event("invoice.paid", invoice)), sync("sub_2"));
        assert_eq!(effect(&event("invoice.paid", json!({"customer": "cus_1", "subscription": "sub_3"}))), sync("sub_3"));
        let completed =
            json!({"id": "cs_1", "customer": "cus_1", "mode": "subscription", "subscription": "sub_4", "payment_status": "paid"});
        assert_eq!(effect(&event("checkout.session.completed", completed)), sync("sub_4"));
        let credits = json!({"id": "cs_2", "customer": "cus_1", "mode": "payment", "payment_status": "paid", "metadata": {"purpose": "credits", "credits": "300"}});
        assert_eq!(
            effect(&event("checkout.session.completed", credits.clone())),
            Effect::GrantCredits { customer_id: "cus_1".into(), session_id: "cs_2".into(), credits: 300 }
        );
        let mut unpaid = credits;
        unpaid["payment_status"] = json!("unpaid");
        assert!(matches!(effect(&event("checkout.session.completed", unpaid)), Effect::Ignore(_)));
        assert_eq!(
            effect(&event("customer.deleted", json!({"id": "cus_1", "object": "customer"}))),
            Effect::CustomerDeleted { customer_id: "cus_1".into() }
        );
        assert!(
            matches!(effect(&event("invoice.payment_failed", json!({"customer": "cus_1", "subscription": "sub_1", "number": "A-1", "attempt_count": 2}))),
            Effect::PaymentFailed { message, .. } if message == "Payment of A-1 failed (attempt 2).")
        );
        assert!(matches!(effect(&event("charge.refunded", json!({"customer": "cus_1"}))), Effect::Ignore(_)));
        assert!(matches!(effect(&event("invoice.paid", json!({"id": "in_1"}))), Effect::Ignore(_)));
    }
}
