//! `POST /billing/downgrade`: a plan change, or for an agent the consent it needs first.

use billing_shared::billing::plan_change::{DowngradeBody, downgrade};
use billing_shared::http::{self, json_body, ok, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        let body: DowngradeBody = json_body(&req)?;
        ok(&downgrade(app, &principal, &body, now()).await?)
    })
    .await
}
