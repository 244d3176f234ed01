use billing_functions::billing_plans;
use billing_shared::{App, telemetry};
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let app = App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, lambda_http::Error>(billing_plans::handle(app, req).await)
    }))
    .await
}
