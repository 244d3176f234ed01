//! One module per Lambda function. Each `handle` parses the event, calls `billing_shared` and
//! maps the result; the bins in `src/bin/` only build the `App` once and serve `handle`.
//! The local gateway (`infra/`) calls these same functions.

pub mod authorizer;
pub mod billing_checkout;
pub mod billing_invoices;
pub mod billing_plans;
pub mod billing_portal;
pub mod billing_summary;
pub mod checkout_sync;
pub mod credits_checkout;
pub mod not_found;
pub mod stripe_webhook;

use std::future::Future;

use billing_shared::{App, telemetry};
use lambda_http::{Body, Request, Response, service_fn};

/// The `main` of every HTTP function that needs config and the store: logs, config and clients
/// once per cold start (a bad config fails the start with a clear message), then `handle` for
/// every request.
pub async fn run_http<Fut>(handle: impl Fn(&'static App, Request) -> Fut + Sync) -> Result<(), lambda_http::Error>
where
    Fut: Future<Output = Response<Body>> + Send,
{
    telemetry::init();
    serve(App::from_env().await?, handle).await
}

/// `run_http` for functions that call Stripe: also loads the Stripe secrets and client. Kept a
/// separate function so the others do not link the Stripe client at all.
pub async fn run_http_with_stripe<Fut>(handle: impl Fn(&'static App, Request) -> Fut + Sync) -> Result<(), lambda_http::Error>
where
    Fut: Future<Output = Response<Body>> + Send,
{
    telemetry::init();
    serve(App::from_env().await?.with_stripe().await?, handle).await
}

async fn serve<Fut>(app: App, handle: impl Fn(&'static App, Request) -> Fut + Sync) -> Result<(), lambda_http::Error>
where
    Fut: Future<Output = Response<Body>> + Send,
{
    // Lives as long as the process, like the Lambda execution environment it serves.
    let app: &'static App = Box::leak(Box::new(app));
    let handle = &handle;
    lambda_http::run(service_fn(move |req: Request| async move { Ok::<_, lambda_http::Error>(handle(app, req).await) })).await
}
