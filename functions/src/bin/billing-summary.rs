use billing_functions::{billing_summary, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(billing_summary::handle).await
}
