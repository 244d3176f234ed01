use aws_lambda_events::event::dynamodb::Event;
use billing_functions::{auto_top_up, start};
use billing_shared::App;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let metrics = start(env!("CARGO_BIN_NAME"))?;
    let app = App::from_env().await?.with_stripe().await;
    let app = &app;
    let service = service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(auto_top_up::handle(app, event.payload).await)
    });
    metrics_cloudwatch_embedded::lambda::service::run(metrics, service).await
}
