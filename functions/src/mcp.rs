//! `POST /mcp`: the API's operations as MCP tools (Streamable HTTP, stateless, JSON answers), for
//! the key's principal; see `billing_shared::mcp`.

use billing_shared::App;
use billing_shared::http::{self, principal, public_base_url, request_id};
use billing_shared::mcp;
use lambda_http::{Body, Request, Response};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    http::serve(req, |req| async move {
        let principal = principal(&req)?;
        let (base_url, request_id) = (public_base_url(&req), request_id(&req));
        Ok(mcp::serve(app, principal, base_url, request_id, req).await)
    })
    .await
}
