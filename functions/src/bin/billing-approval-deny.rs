use billing_functions::{billing_approval_deny, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(billing_approval_deny::handle).await
}
