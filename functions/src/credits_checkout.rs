//! `POST /billing/credits/checkout`: one-time Checkout for 1-10 credit bundles -> `{checkout_url, session_id}`,
//! or, with `"payment": "card_on_file"`, the bundles bought at once with the card on file -> `TopUp`.

use billing_shared::billing::credits_checkout::{CreditsCheckoutBody, CreditsCheckoutSession, Payment, credits_checkout};
use billing_shared::billing::top_up::top_up;
use billing_shared::domain::org::PrincipalKind;
use billing_shared::error::{ApiError, FieldProblem};
use billing_shared::http::{self, idempotency_key, json_body, ok, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        let body: CreditsCheckoutBody = json_body(&req)?;
        match body.payment {
            Payment::Checkout => {
                let link = credits_checkout(app, &principal, &body, now()).await?;
                ok(&CreditsCheckoutSession::from(link))
            }
            Payment::CardOnFile => {
                let key = idempotency_key(&req)?;
                // The redirect URLs are a Checkout's: a card payment has no page to return from.
                let stray: Vec<FieldProblem> = [("success_url", &body.success_url), ("cancel_url", &body.cancel_url)]
                    .into_iter()
                    .filter(|(_, url)| url.is_some())
                    .map(|(field, _)| FieldProblem::new(field, "only with \"payment\": \"checkout\""))
                    .collect();
                if !stray.is_empty() {
                    return Err(ApiError::validation(stray));
                }
                if principal.kind == PrincipalKind::Agent {
                    return Err(ApiError::forbidden(
                        "An AGENT key cannot charge the card on file; buy through Checkout (\"payment\": \"checkout\") and hand \
                         `checkout_url` to your human.",
                    ));
                }
                ok(&top_up(app, &principal, body.quantity, key.as_ref(), now()).await?)
            }
        }
    })
    .await
}
