//! `POST /billing/trial/end` and `POST /billing/trial/extend` (one function, the two ends of a
//! trial): start paying now, for an agent the consent it needs first; or, for an ADMIN, days more.

use billing_shared::billing::Caller;
use billing_shared::billing::plan_change::trial::{EndTrialBody, ExtendTrialBody, end_trial, extend_trial};
use billing_shared::http::{self, json_body, ok, principal, public_base_url};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        if req.uri().path().ends_with("/extend") {
            let body: ExtendTrialBody = json_body(&req)?;
            return ok(&extend_trial(app, &principal, &body, now()).await?);
        }
        let body: EndTrialBody = json_body(&req)?;
        let base_url = public_base_url(&req);
        ok(&end_trial(app, &Caller { principal: &principal, base_url: &base_url }, &body, now()).await?)
    })
    .await
}
