//! `POST /billing/credits/spend` `{amount, reason?}`, with an optional `Idempotency-Key`:
//! takes bought credits, never below zero.

use billing_shared::billing::credits::{SpendBody, spend};
use billing_shared::http::{self, answer_response, idempotency_key, json_body, only_query_params, principal, request_id};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let key = idempotency_key(&req)?;
        let body: SpendBody = json_body(&req)?;
        let answer = spend(app, &principal, &body, key.as_ref(), now()).await?;
        Ok(answer_response(answer, &request_id(&req)))
    })
    .await
}
