use billing_functions::{openapi, run_http_without_app};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http_without_app(env!("CARGO_BIN_NAME"), openapi::answer).await
}
