//! `GET /billing/plans`: the catalog (amounts, caps, per-unit pricing); no DynamoDB call.

use billing_shared::App;
use billing_shared::domain::summary::catalog_view;
use billing_shared::http::{self, ok, only_query_params, principal};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        principal(&req)?;
        only_query_params(&req, &[])?;
        ok(&catalog_view(&app.config.catalog))
    })
    .await
}
