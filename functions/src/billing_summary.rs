//! `GET /billing`: the org's plan, status, price, period, card, credits and every limit.
//! One DynamoDB round trip (the org item holds usage too).

use billing_shared::http::{self, ok, only_query_params, principal};
use billing_shared::summary::billing_summary;
use billing_shared::{ApiError, App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let org =
            app.store.get_org(&principal.org_id).await?.ok_or_else(|| ApiError::not_found("The org of this key no longer exists."))?;
        ok(&billing_summary(&org, &app.config.catalog, now(), app.config.past_due_grace_secs))
    })
    .await
}
