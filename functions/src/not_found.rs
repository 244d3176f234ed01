//! The `$default` route: a path the API does not have gets the 404 envelope, a known path with
//! another method the 405 envelope and an `Allow` header (instead of API Gateway's own bodies).

use billing_shared::http::{self, error_response, request_id};
use billing_shared::{ApiError, App, ErrorKind};
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, Response};

use crate::{DEFAULT_ROUTE, ROUTES, match_path};

pub async fn handle(_app: &App, req: Request) -> Response<Body> {
    answer(req).await
}

/// What `handle` answers; it needs no config or clients, so the bin serves it without an `App`.
pub async fn answer(req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let (method, path) = (req.method().as_str(), req.uri().path());
        // The most specific patterns that match, as API Gateway prefers them: a literal path
        // (`/billing/mandates/request`) shadows a parameter (`/billing/mandates/{mandate_id}`).
        let matched: Vec<(&str, usize)> = ROUTES
            .iter()
            .filter(|r| r.path != DEFAULT_ROUTE)
            .filter_map(|r| match_path(r.path, path).map(|params| (r.method, params.len())))
            .collect();
        let fewest = matched.iter().map(|(_, params)| *params).min();
        let allowed: Vec<&str> = matched.iter().filter(|(_, params)| Some(*params) == fewest).map(|(method, _)| *method).collect();
        if allowed.is_empty() {
            return Err(ApiError::not_found(format!("No route {method} {path}.")));
        }
        let allow = allowed.join(", ");
        let err = ApiError::new(ErrorKind::MethodNotAllowed, format!("{method} is not a method of {path}: use {allow}."))
            .with_details(serde_json::json!({ "allow": allowed }));
        let mut response = error_response(&err, &request_id(&req));
        response.headers_mut().insert("allow", HeaderValue::from_str(&allow).map_err(|e| ApiError::internal(e.to_string()))?);
        Ok(response)
    })
    .await
}
