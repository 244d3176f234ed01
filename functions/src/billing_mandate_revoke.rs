//! `DELETE /billing/mandates/{mandate_id}`: a HUMAN or ADMIN revokes a mandate of the org; the
//! agent's very next action is outside it.

use billing_shared::billing::mandates;
use billing_shared::domain::mandate::is_mandate_id;
use billing_shared::http::{self, ok, only_query_params, path_param, principal};
use billing_shared::{ApiError, App, now};
use lambda_http::{Body, Request, Response};

use crate::{literal_route_of_another_method, not_found};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    if literal_route_of_another_method(req.method().as_str(), req.uri().path()) {
        return not_found::answer(req).await;
    }
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        only_query_params(&req, &[])?;
        let id = path_param(&req, "mandate_id").filter(|id| is_mandate_id(id));
        let id = id.ok_or_else(|| ApiError::not_found("No mandate with this id in your org (ids are md_ and 32 hex digits)."))?;
        ok(&mandates::revoke(app, &principal, &id, now()).await?)
    })
    .await
}
