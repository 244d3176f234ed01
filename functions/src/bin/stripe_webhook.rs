use billing_functions::{stripe_webhook, run_http_with_stripe};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http_with_stripe(stripe_webhook::handle).await
}
