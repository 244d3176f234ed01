use billing_functions::{billing_portal, run_http_with_stripe};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http_with_stripe(billing_portal::handle).await
}
