//! The floor binary: the floor of `billing_floor`, served by lambda_http alone.

use billing_floor::Floor;
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let floor = &Floor::from_env().await?;
    lambda_http::run(service_fn(move |_: Request| async move {
        Ok::<_, Error>(Response::builder().status(floor.status().await?).body(Body::Empty)?)
    }))
    .await
}
