use billing_functions::{Needs, stripe_webhook, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(Needs::StoreAndStripe, stripe_webhook::handle).await
}
