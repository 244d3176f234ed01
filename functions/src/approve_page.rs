//! `GET /approve/{id}` (no key): the approval page a human opens from the link an agent gave
//! them. It needs no config or clients; what it shows it fetches with the key the human enters.

use billing_shared::App;
use billing_shared::http::{self, approval_page};
use lambda_http::{Body, Request, Response};

pub async fn handle(_app: &App, req: Request) -> Response<Body> {
    answer(req).await
}

/// What `handle` answers; the bin serves it without an `App`.
pub async fn answer(req: Request) -> Response<Body> {
    http::serve(req, |req| async move { approval_page(http::path_param(&req, "id").as_deref()) }).await
}
