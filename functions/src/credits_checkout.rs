//! `POST /billing/credits/checkout`: one-time Checkout for 1-10 credit bundles -> `{checkout_url, session_id}`,
//! or, with `"payment": "card_on_file"`, the bundles bought at once with the card on file -> `TopUp`.

use billing_shared::billing::credits_checkout::{CreditsCheckoutBody, CreditsCheckoutSession, Payment, credits_checkout};
use billing_shared::billing::top_up::card_on_file;
use billing_shared::http::{self, idempotency_key, json_body, ok, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        // Checked for both ways of paying, though only the card on file uses it.
        let key = idempotency_key(&req)?;
        let body: CreditsCheckoutBody = json_body(&req)?;
        match body.payment {
            Payment::Checkout => {
                let link = credits_checkout(app, &principal, &body, now()).await?;
                ok(&CreditsCheckoutSession::from(link))
            }
            Payment::CardOnFile => ok(&card_on_file(app, &principal, &body, key.as_ref(), now()).await?),
        }
    })
    .await
}
