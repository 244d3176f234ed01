//! `GET /billing/credits?limit=&starting_after=`: the balance and the credits ledger (grants
//! and spends), newest first.

use billing_shared::App;
use billing_shared::billing::credits::{LedgerQuery, ledger};
use billing_shared::http::{self, ok, only_query_params, principal, query_param};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &["limit", "starting_after"])?;
        let query = LedgerQuery::parse(query_param(&req, "limit")?.as_deref(), query_param(&req, "starting_after")?.as_deref())?;
        ok(&ledger(app, &principal, &query).await?)
    })
    .await
}
