//! `GET /billing/settings`: the org's settings (the brake for its AGENT keys, automatic top-up),
//! for any key of the org.

use billing_shared::billing::settings;
use billing_shared::http::{self, ok, only_query_params, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        ok(&settings::get(app, &principal, now()).await?)
    })
    .await
}
