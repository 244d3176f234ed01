use billing_functions::{limit_increase, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(env!("CARGO_BIN_NAME"), limit_increase::handle).await
}
