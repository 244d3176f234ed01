use billing_functions::{run_http, usage_release};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(usage_release::handle).await
}
