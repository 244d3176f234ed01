//! `GET /billing/agents`: the org's AGENT keys with their mandate, what they drew today and
//! this month, and their pause (HUMAN or ADMIN; an AGENT gets 403).

use billing_shared::billing::agents;
use billing_shared::http::{self, ok, only_query_params, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        ok(&agents::list(app, &principal, now()).await?)
    })
    .await
}
