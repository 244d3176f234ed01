//! `POST /billing/approvals/{id}/approve` (body optional, `{}`): a HUMAN of the org approves an
//! agent's web-mode request; the bound change executes once, as that human.

use billing_shared::billing::plan_change::approval::{self, DecisionBody};
use billing_shared::http::{self, json_body, ok, only_query_params, path_param, principal};
use billing_shared::{ApiError, App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let DecisionBody {} = json_body(&req)?;
        let id = path_param(&req, "id").ok_or_else(|| ApiError::not_found("No approval id in the path."))?;
        ok(&approval::approve(app, &principal, &id, now()).await?)
    })
    .await
}
