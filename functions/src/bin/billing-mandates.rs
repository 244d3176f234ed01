use billing_functions::{billing_mandates, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(env!("CARGO_BIN_NAME"), billing_mandates::handle).await
}
