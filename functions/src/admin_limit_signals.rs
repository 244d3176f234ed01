//! `GET /admin/limit-signals?kind=&since=`: limit-increase signals aggregated per kind and org.
//! ADMIN principals only; any other is 403.

use billing_shared::billing::limit_signals::{SignalQuery, report, require_admin};
use billing_shared::http::{self, ok, only_query_params, principal, query_param};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        require_admin(&principal)?;
        only_query_params(&req, &["kind", "since"])?;
        let query = SignalQuery::parse(query_param(&req, "kind")?.as_deref(), query_param(&req, "since")?.as_deref())?;
        ok(&report(app, &query, now()).await?)
    })
    .await
}
