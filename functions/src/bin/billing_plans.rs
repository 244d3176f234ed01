use billing_functions::{Needs, billing_plans, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(Needs::Store, billing_plans::handle).await
}
