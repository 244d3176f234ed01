//! `POST /billing/portal`: a Customer Portal session -> `{url}`.

use billing_shared::billing::portal::{PortalBody, portal_session};
use billing_shared::http::{self, json_body, ok, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        let body: PortalBody = json_body(&req)?;
        ok(&portal_session(app, &principal, &body, now()).await?)
    })
    .await
}
