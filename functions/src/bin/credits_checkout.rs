use billing_functions::{Needs, credits_checkout, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(Needs::StoreAndStripe, credits_checkout::handle).await
}
