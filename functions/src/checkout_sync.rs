//! `GET /billing/checkout/{session_id}`: the success page's eager sync of a Checkout Session.

use billing_shared::billing::checkout_sync::sync_checkout;
use billing_shared::http::{self, ok, only_query_params, path_param, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let session_id = path_param(&req, "session_id").unwrap_or_default();
        ok(&sync_checkout(app, &principal, &session_id, now()).await?)
    })
    .await
}
