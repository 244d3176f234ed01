use billing_functions::reconciler;
use billing_shared::{App, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let app = App::from_env().await?.with_stripe().await;
    let app = &app;
    // The schedule's payload carries nothing the run needs.
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| reconciler::handle(app))).await
}
