//! `GET /billing`: the org's plan, status, price, period, card, credits and every limit.
//! One DynamoDB round trip (the org item holds usage too).

use billing_shared::billing::summary::summary;
use billing_shared::http::{self, ok, only_query_params, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        ok(&summary(app, &principal, now()).await?)
    })
    .await
}
