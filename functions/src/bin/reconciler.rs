use billing_functions::{reconciler, start};
use billing_shared::App;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let metrics = start(env!("CARGO_BIN_NAME"))?;
    let app = App::from_env().await?.with_stripe().await;
    let app = &app;
    // The schedule's payload carries nothing the run needs.
    let service = service_fn(move |event: LambdaEvent<serde_json::Value>| reconciler::handle(app, event.context));
    metrics_cloudwatch_embedded::lambda::service::run(metrics, service).await
}
