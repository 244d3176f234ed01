//! `POST /billing/mandates` `{agent_key_id, limits, expires_at}`: a HUMAN or ADMIN grants an
//! AGENT key of the org standing consent within an envelope (201); an AGENT gets 403.

use billing_shared::billing::mandates::{self, GrantBody};
use billing_shared::http::{self, json_body, json_response, only_query_params, principal};
use billing_shared::{App, now};
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let body: GrantBody = json_body(&req)?;
        Ok(json_response(201, &mandates::grant(app, &principal, &body, now()).await?))
    })
    .await
}
