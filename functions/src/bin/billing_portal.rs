use billing_functions::{Needs, billing_portal, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(Needs::StoreAndStripe, billing_portal::handle).await
}
