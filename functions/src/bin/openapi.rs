use billing_functions::openapi;
use billing_shared::telemetry;
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    lambda_http::run(service_fn(|req: Request| async move { Ok::<_, lambda_http::Error>(openapi::answer(req).await) })).await
}
