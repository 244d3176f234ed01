use billing_functions::{billing_approval_deny, run_http_with_stripe};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http_with_stripe(env!("CARGO_BIN_NAME"), billing_approval_deny::handle).await
}
