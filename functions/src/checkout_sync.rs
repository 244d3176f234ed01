//! `GET /billing/checkout/{session_id}`: the success page's eager sync of a Checkout Session.

use billing_shared::http::{self, ok, only_query_params, path_param, principal};
use billing_shared::summary::billing_summary;
use billing_shared::sync::sync_checkout;
use billing_shared::{ApiError, App, now};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let session_id = path_param(&req, "session_id")
            .filter(|id| id.starts_with("cs_") && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .ok_or_else(|| ApiError::field("session_id", "must be a Checkout Session id (cs_...)"))?;
        let sync = sync_checkout(app, &principal, &session_id, now()).await?;
        let org =
            app.store.get_org(&principal.org_id).await?.ok_or_else(|| ApiError::not_found("The org of this key no longer exists."))?;
        let billing = billing_summary(&org, &app.config.catalog, now(), app.config.past_due_grace_secs);
        ok(&json!({ "session_id": sync.session_id, "complete": sync.complete, "paid": sync.paid, "billing": billing }))
    })
    .await
}
