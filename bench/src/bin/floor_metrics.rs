//! `floor-metrics`: the floor with the functions' metrics. The EMF collector is installed as
//! every function installs it, and each request records what every HTTP request does (its
//! properties reset, the principal, `requests` by status), written to stdout when answered.
//! Beside the floor it shows what metrics cost a request (BENCHMARKS.md, "What metrics cost").

use billing_floor::Floor;
use billing_shared::http::principal;
use billing_shared::metrics;
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let collector = metrics::install(env!("CARGO_BIN_NAME"))?;
    let floor = &Floor::from_env().await?;
    let service = service_fn(move |req: Request| async move {
        metrics::invocation_started();
        let status = match principal(&req) {
            Ok(_) => floor.status().await?,
            Err(_) => 401,
        };
        metrics::requests(status);
        Ok::<_, Error>(Response::builder().status(status).body(Body::Empty)?)
    });
    metrics_cloudwatch_embedded::lambda::service::run_http(collector, service).await
}
