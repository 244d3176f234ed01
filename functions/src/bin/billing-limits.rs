use billing_functions::{billing_limits, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(billing_limits::handle).await
}
