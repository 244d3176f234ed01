use billing_functions::{billing_approval, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(billing_approval::handle).await
}
