use billing_functions::{billing_promotion_code, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(env!("CARGO_BIN_NAME"), billing_promotion_code::handle).await
}
