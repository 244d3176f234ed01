use billing_functions::{credits_ledger, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(credits_ledger::handle).await
}
