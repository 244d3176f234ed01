use billing_functions::{run_http, usage_reserve};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(env!("CARGO_BIN_NAME"), usage_reserve::handle).await
}
