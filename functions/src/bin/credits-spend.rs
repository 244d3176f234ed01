use billing_functions::{credits_spend, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(credits_spend::handle).await
}
