//! `POST /billing/agents/{key_id}/resume` (body optional, `{}`): a HUMAN or ADMIN of the org
//! lifts an AGENT key's pause early; see `billing_shared::billing::brake`.

use billing_shared::billing::brake::{self, ResumeBody};
use billing_shared::http::{self, json_body, ok, only_query_params, path_param, principal};
use billing_shared::{ApiError, App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let ResumeBody {} = json_body(&req)?;
        let key_id = path_param(&req, "key_id").ok_or_else(|| ApiError::not_found("No key id in the path."))?;
        ok(&brake::resume(app, &principal, &key_id, now()).await?)
    })
    .await
}
