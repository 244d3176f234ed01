//! `GET /billing/mandates`: the org's mandates, with what each used this month and today (an
//! AGENT key sees its own only).

use billing_shared::billing::mandates;
use billing_shared::http::{self, ok, only_query_params, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        ok(&mandates::list(app, &principal, now()).await?)
    })
    .await
}
