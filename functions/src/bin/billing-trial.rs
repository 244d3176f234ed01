use billing_functions::{billing_trial, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(env!("CARGO_BIN_NAME"), billing_trial::handle).await
}
