use billing_functions::{limit_increase, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(limit_increase::handle).await
}
