//! `POST /billing/upgrade`: a plan change, or for an agent the consent it needs first.

use billing_shared::billing::Caller;
use billing_shared::billing::plan_change::{UpgradeBody, upgrade};
use billing_shared::http::{self, json_body, ok, principal, public_base_url};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        let body: UpgradeBody = json_body(&req)?;
        let base_url = public_base_url(&req);
        ok(&upgrade(app, &Caller { principal: &principal, base_url: &base_url }, &body, now()).await?)
    })
    .await
}
