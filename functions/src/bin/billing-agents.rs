use billing_functions::{billing_agents, run_http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run_http(env!("CARGO_BIN_NAME"), billing_agents::handle).await
}
