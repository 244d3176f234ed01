use billing_functions::{admin_limit_signals, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(env!("CARGO_BIN_NAME"), admin_limit_signals::handle).await
}
