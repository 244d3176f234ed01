//! `GET /billing/approvals/{id}`: a web-mode approval's status, polled by the agent that asked
//! (RFC 8628 pace) and read by the approval page.

use billing_shared::billing::plan_change::approval;
use billing_shared::http::{self, ok, only_query_params, path_param, principal};
use billing_shared::{ApiError, App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let id = path_param(&req, "id").ok_or_else(|| ApiError::not_found("No approval id in the path."))?;
        ok(&approval::status(app, &principal, &id, now()).await?)
    })
    .await
}
