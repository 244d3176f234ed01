use billing_functions::{Needs, checkout_sync, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(Needs::StoreAndStripe, checkout_sync::handle).await
}
