//! `POST /billing/mandates/request` `{limits, expires_at, reason?}`: an AGENT asks its human
//! for a mandate; the answer is a web approval (page, polling URL, binding code).

use billing_shared::billing::Caller;
use billing_shared::billing::mandate_request::{MandateRequestBody, request};
use billing_shared::http::{self, json_body, ok, only_query_params, principal, public_base_url};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let body: MandateRequestBody = json_body(&req)?;
        let base_url = public_base_url(&req);
        ok(&request(app, &Caller { principal: &principal, base_url: &base_url }, &body, now()).await?)
    })
    .await
}
