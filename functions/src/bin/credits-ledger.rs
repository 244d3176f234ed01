use billing_functions::{credits_ledger, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(env!("CARGO_BIN_NAME"), credits_ledger::handle).await
}
