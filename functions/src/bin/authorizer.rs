// The runtime's layers around the store's futures nest deeper than the default limit of 128.
#![recursion_limit = "256"]

use billing_functions::{authorizer, start};
use billing_shared::App;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let metrics = start(env!("CARGO_BIN_NAME"))?;
    let app = App::from_env().await?;
    let app = &app;
    let service =
        service_fn(move |event: LambdaEvent<_>| async move { Ok::<_, lambda_runtime::Error>(authorizer::handle(app, event).await) });
    metrics_cloudwatch_embedded::lambda::service::run(metrics, service).await
}
