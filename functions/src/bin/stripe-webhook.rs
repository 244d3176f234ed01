use billing_functions::{run_http_with_stripe, stripe_webhook};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http_with_stripe(env!("CARGO_BIN_NAME"), stripe_webhook::handle).await
}
