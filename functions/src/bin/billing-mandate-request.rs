use billing_functions::{billing_mandate_request, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(env!("CARGO_BIN_NAME"), billing_mandate_request::handle).await
}
