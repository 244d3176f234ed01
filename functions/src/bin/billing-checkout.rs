use billing_functions::{billing_checkout, run_http_with_stripe};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http_with_stripe(env!("CARGO_BIN_NAME"), billing_checkout::handle).await
}
