use aws_lambda_events::event::dynamodb::Event;
use billing_functions::{events_publisher, start};
use billing_shared::bus::EventBus;
use billing_shared::config::{aws_sdk_config, event_bus_name};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let metrics = start(env!("CARGO_BIN_NAME"))?;
    let bus = EventBus::new(&aws_sdk_config().await, event_bus_name()?);
    let bus = &bus;
    let service = service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(events_publisher::handle(bus, event.payload).await)
    });
    metrics_cloudwatch_embedded::lambda::service::run(metrics, service).await
}
