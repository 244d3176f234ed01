//! One module per Lambda function, named after its binary (`billing-summary` ->
//! `billing_summary`). Each `handle` parses the event, calls a use case of `billing_shared` and
//! maps the result; the bins in `src/bin/` only start logs and metrics, build the `App` once and
//! serve `handle`.
//! `ROUTES` and `dispatch` are generated from template.yaml (see build.rs): the local gateway
//! and the `$default` route's 405 answers use them.

pub mod admin_limit_signals;
pub mod approve_page;
pub mod authorizer;
pub mod auto_top_up;
pub mod billing_activity;
pub mod billing_agent_resume;
pub mod billing_agents;
pub mod billing_approval;
pub mod billing_approval_approve;
pub mod billing_approval_deny;
pub mod billing_checkout;
pub mod billing_downgrade;
pub mod billing_invoices;
pub mod billing_limits;
pub mod billing_mandate_grant;
pub mod billing_mandate_request;
pub mod billing_mandate_revoke;
pub mod billing_mandates;
pub mod billing_plans;
pub mod billing_portal;
pub mod billing_promotion_code;
pub mod billing_settings;
pub mod billing_settings_update;
pub mod billing_summary;
pub mod billing_trial;
pub mod billing_upgrade;
pub mod checkout_sync;
pub mod credits_checkout;
pub mod credits_ledger;
pub mod credits_spend;
pub mod events_publisher;
pub mod limit_increase;
pub mod mcp;
pub mod not_found;
pub mod openapi;
pub mod reconciler;
pub mod stream;
pub mod stripe_webhook;
pub mod usage_release;
pub mod usage_reserve;

use std::future::Future;

use billing_shared::billing::brake;
use billing_shared::domain::brake::retry_after;
use billing_shared::{App, http, metrics, now, telemetry};
use lambda_http::{Body, Request, Response, service_fn};
use metrics_cloudwatch_embedded::Collector;

/// One HTTP API route of template.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub binary: &'static str,
    /// Whether the API's default authorizer runs first (`Auth.Authorizer: NONE` turns it off).
    pub authorized: bool,
}

include!(concat!(env!("OUT_DIR"), "/functions.rs"));

/// API Gateway's catch-all route.
pub const DEFAULT_ROUTE: &str = "$default";

/// Whether another method has `path` as a literal route (`POST /billing/mandates/request`):
/// API Gateway sends the request's method to a parameter route that also matches
/// (`DELETE /billing/mandates/{mandate_id}`), whose handler then answers that path's 405.
pub fn literal_route_of_another_method(method: &str, path: &str) -> bool {
    ROUTES.iter().any(|route| route.method != method && route.path == path.trim_end_matches('/'))
}

/// The path parameters if `path` matches the route pattern `pattern` (`/billing/limits/{resource}`,
/// `{name+}` greedy), as API Gateway matches them.
pub fn match_path(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut segments = path.trim_end_matches('/').split('/');
    for part in pattern.split('/') {
        match (part.strip_prefix('{').and_then(|p| p.strip_suffix('}')), segments.next()) {
            (Some(name), Some(segment)) if name.ends_with('+') => {
                let rest: Vec<&str> = std::iter::once(segment).chain(segments.by_ref()).collect();
                params.push((name.trim_end_matches('+').to_string(), rest.join("/")));
            }
            (Some(name), Some(segment)) if !segment.is_empty() => params.push((name.to_string(), segment.to_string())),
            (None, Some(segment)) if segment == part => {}
            _ => return None,
        }
    }
    segments.next().is_none().then_some(params)
}

/// What every function starts with, once per cold start: JSON logs, and the metrics collector
/// whose `function` dimension is `function`, the binary's name (`env!("CARGO_BIN_NAME")`: in
/// Lambda every binary is called `bootstrap`). Each invocation's metrics are written when it is
/// answered (`metrics_cloudwatch_embedded::lambda`, which serves in place of `lambda_runtime::run`).
pub fn start(function: &'static str) -> Result<&'static Collector, lambda_http::Error> {
    telemetry::init();
    metrics::install(function)
}

/// The `main` of every HTTP function that needs config and the store: logs, metrics, config and
/// clients once per cold start (a bad config fails the start with a clear message), then `handle`
/// for every request.
pub async fn run_http<Fut>(
    function: &'static str,
    handle: impl Fn(&'static App, Request) -> Fut + Sync + Copy,
) -> Result<(), lambda_http::Error>
where
    Fut: Future<Output = Response<Body>> + Send,
{
    let metrics = start(function)?;
    serve(metrics, App::from_env().await?, handle).await
}

/// `run_http` for functions that call Stripe: also loads the Stripe secrets and client. Kept a
/// separate function so the others do not link the Stripe client at all.
pub async fn run_http_with_stripe<Fut>(
    function: &'static str,
    handle: impl Fn(&'static App, Request) -> Fut + Sync + Copy,
) -> Result<(), lambda_http::Error>
where
    Fut: Future<Output = Response<Body>> + Send,
{
    let metrics = start(function)?;
    serve(metrics, App::from_env().await?.with_stripe().await, handle).await
}

/// The `main` of the HTTP functions that need neither config nor clients (the OpenAPI
/// document, the approval page, the 404 and 405 answers).
pub async fn run_http_without_app<Fut>(function: &'static str, answer: impl Fn(Request) -> Fut + Sync) -> Result<(), lambda_http::Error>
where
    Fut: Future<Output = Response<Body>> + Send,
{
    let metrics = start(function)?;
    answer_requests(metrics, answer).await
}

async fn serve<Fut>(
    metrics: &'static Collector,
    app: App,
    handle: impl Fn(&'static App, Request) -> Fut + Sync + Copy,
) -> Result<(), lambda_http::Error>
where
    Fut: Future<Output = Response<Body>> + Send,
{
    // Lives as long as the process, like the Lambda execution environment it serves.
    let app: &'static App = Box::leak(Box::new(app));
    answer_requests(metrics, move |req| braked(app, req, handle)).await
}

/// Serves one request with a route's handler, then counts the answer toward the brake of the
/// caller's AGENT key (`billing::brake`): after the answer is decided, never changing it. Every
/// route goes through here, in AWS (`run_http`) and in the local gateway (`dispatch`). A paused
/// key's requests are answered 429 by `http::serve` and not counted again.
pub fn braked<'a, Fut>(app: &'a App, req: Request, handle: impl FnOnce(&'a App, Request) -> Fut) -> impl Future<Output = Response<Body>>
where
    Fut: Future<Output = Response<Body>>,
{
    let counted = http::caller(&req).filter(|(_, paused_until)| retry_after(*paused_until, now()).is_none());
    // Boxed: handler futures are large (tens of KB in a debug build), and this one is moved
    // into the counting future and then into the dispatch's.
    let answer = Box::pin(handle(app, req));
    async move {
        let response = answer.await;
        if let Some((principal, _)) = counted {
            brake::count_refusal(app, &principal, response.status().as_u16(), now()).await;
        }
        response
    }
}

/// Serves HTTP API requests with `answer`, each invocation's metrics written once it is answered.
async fn answer_requests<Fut>(metrics: &'static Collector, answer: impl Fn(Request) -> Fut + Sync) -> Result<(), lambda_http::Error>
where
    Fut: Future<Output = Response<Body>> + Send,
{
    let answer = &answer;
    let service = service_fn(move |req: Request| async move { Ok::<_, lambda_http::Error>(answer(req).await) });
    metrics_cloudwatch_embedded::lambda::service::run_http(metrics, service).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_with_parameters() {
        assert_eq!(match_path("/billing", "/billing"), Some(vec![]));
        assert_eq!(match_path("/billing", "/billing/"), Some(vec![]));
        assert_eq!(match_path("/billing", "/billing/plans"), None);
        assert_eq!(match_path("/billing/plans", "/billing"), None);
        assert_eq!(match_path("/billing/limits/{resource}", "/billing/limits/agents"), Some(vec![("resource".into(), "agents".into())]));
        assert_eq!(match_path("/billing/limits/{resource}", "/billing/limits/"), None);
        assert_eq!(match_path("/a/{rest+}", "/a/b/c"), Some(vec![("rest".into(), "b/c".into())]));
    }

    #[test]
    fn the_generated_table_has_the_template_routes() {
        assert!(ROUTES.iter().any(|r| r.method == "GET" && r.path == "/billing" && r.binary == "billing-summary" && r.authorized));
        assert!(ROUTES.iter().any(|r| r.path == DEFAULT_ROUTE && !r.authorized));
        assert!(BINARIES.contains(&"authorizer") && !ROUTES.iter().any(|r| r.binary == "authorizer"));
    }
}
