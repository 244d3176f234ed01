//! `POST /stripe/webhook`: Stripe deliveries. No bearer auth: the signature is the auth.
//! 400 for a bad signature (nothing written); 200 once the effect is durable, or for an event
//! that needs nothing; 5xx when a write or Stripe failed, so Stripe delivers it again.

use billing_shared::billing::webhook_sync::{WebhookReceipt, handle_event};
use billing_shared::http::{self, ok, verify_stripe_signature};
use billing_shared::{App, metrics, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let signature = req.headers().get("stripe-signature").and_then(|v| v.to_str().ok());
        // No client means no secrets: the signature cannot be checked either (503, Stripe retries).
        app.stripe()?;
        let now = now();
        let verified = verify_stripe_signature(req.body().as_ref(), signature, &app.webhook_secrets, now);
        // Not Stripe's (or not an event); a 5xx (no secret to check with) is retried, not refused.
        let event = verified.inspect_err(|err| {
            if err.status() < 500 {
                metrics::webhook_events("rejected")
            }
        })?;
        let outcome = handle_event(app, &event, now).await?;
        metrics::webhook_events(outcome.name());
        let receipt = WebhookReceipt::new(&event.id, &outcome);
        tracing::info!(event_id = %event.id, event_type = %event.event_type, outcome = %receipt.outcome, "event handled");
        ok(&receipt)
    })
    .await
}
