//! `POST /billing/usage/{resource}/release` `{count?: 1..1000}`, with an optional
//! `Idempotency-Key`: see `billing_shared::billing::usage`.

use billing_shared::billing::usage::{CountBody, Operation, count};
use billing_shared::http::{self, answer_response, idempotency_key, json_body, only_query_params, path_param, principal, request_id};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let resource = path_param(&req, "resource").unwrap_or_default();
        let key = idempotency_key(&req)?;
        let body: CountBody = json_body(&req)?;
        let answer = count(app, &principal, Operation::Release, &resource, &body, key.as_ref(), now()).await?;
        Ok(answer_response(answer, &request_id(&req)))
    })
    .await
}
