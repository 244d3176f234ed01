use billing_functions::{Needs, billing_checkout, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(Needs::StoreAndStripe, billing_checkout::handle).await
}
