use billing_functions::{approve_page, run_http_without_app};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http_without_app(env!("CARGO_BIN_NAME"), approve_page::answer).await
}
