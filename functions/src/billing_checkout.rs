//! `POST /billing/checkout`: a Stripe Checkout Session for a subscription -> `{url, session_id}`.

use billing_shared::billing::checkout::{CheckoutSession, SubscriptionCheckoutBody, subscription_checkout};
use billing_shared::http::{self, json_body, ok, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        let body: SubscriptionCheckoutBody = json_body(&req)?;
        let opened = subscription_checkout(app, &principal, &body, now()).await?;
        ok(&CheckoutSession::from(opened))
    })
    .await
}
