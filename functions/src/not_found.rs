//! The `$default` route: any method and path the API does not have gets the 404 envelope
//! (instead of API Gateway's own body).

use billing_shared::ApiError;
use billing_shared::http;
use lambda_http::{Body, Request, Response};

pub async fn handle(req: Request) -> Response<Body> {
    http::serve(req, |req| async move { Err(ApiError::not_found(format!("No route {} {}.", req.method(), req.uri().path()))) }).await
}
