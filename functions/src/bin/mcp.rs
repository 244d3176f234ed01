use billing_functions::{mcp, run_http_with_stripe};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http_with_stripe(env!("CARGO_BIN_NAME"), mcp::handle).await
}
