//! `POST /billing/credits/checkout`: one-time Checkout for 1-10 credit bundles -> `{checkout_url, session_id}`.

use billing_shared::billing::credits_checkout::{CreditsCheckoutBody, CreditsCheckoutSession, credits_checkout};
use billing_shared::http::{self, json_body, ok, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        let body: CreditsCheckoutBody = json_body(&req)?;
        let link = credits_checkout(app, &principal, &body, now()).await?;
        ok(&CreditsCheckoutSession::from(link))
    })
    .await
}
