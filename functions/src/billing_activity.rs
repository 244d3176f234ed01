//! `GET /billing/activity?limit=&starting_after=&actor=`: the org's activity history, newest
//! first (an AGENT key's own only).

use billing_shared::App;
use billing_shared::billing::activity::{ActivityQuery, history};
use billing_shared::http::{self, ok, only_query_params, principal, query_param};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &["limit", "starting_after", "actor"])?;
        let query = ActivityQuery::parse(
            query_param(&req, "limit")?.as_deref(),
            query_param(&req, "starting_after")?.as_deref(),
            query_param(&req, "actor")?.as_deref(),
        )?;
        ok(&history(app, &principal, &query).await?)
    })
    .await
}
