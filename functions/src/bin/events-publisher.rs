use aws_lambda_events::event::dynamodb::Event;
use billing_functions::events_publisher;
use billing_shared::bus::EventBus;
use billing_shared::config::{aws_sdk_config, event_bus_name};
use billing_shared::telemetry;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let bus = EventBus::new(&aws_sdk_config().await, event_bus_name()?);
    let bus = &bus;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(events_publisher::handle(bus, event.payload).await)
    }))
    .await
}
