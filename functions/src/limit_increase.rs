//! `POST /billing/request-limit-increase` `{kind?, desiredValue?, reason?}` (body optional):
//! records the signal -> `{status: "recorded", signal_id, count_for_kind}`.

use billing_shared::billing::limit_signals::{IncreaseBody, request_increase};
use billing_shared::http::{self, json_body, ok, only_query_params, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let body: IncreaseBody = json_body(&req)?;
        ok(&request_increase(app, &principal, &body, now()).await?)
    })
    .await
}
