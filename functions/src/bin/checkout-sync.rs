use billing_functions::{checkout_sync, run_http_with_stripe};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http_with_stripe(env!("CARGO_BIN_NAME"), checkout_sync::handle).await
}
