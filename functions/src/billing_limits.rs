//! `GET /billing/limits` and `GET /billing/limits/{resource}` (one function, two routes of the
//! same resource): caps vs usage, "can I create one more?", in one DynamoDB read.

use billing_shared::billing::limits::{limits, resource_limit};
use billing_shared::http::{self, ok, only_query_params, path_param, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        match path_param(&req, "resource") {
            Some(resource) => ok(&resource_limit(app, &principal, &resource, now()).await?),
            None => ok(&limits(app, &principal, now()).await?),
        }
    })
    .await
}
