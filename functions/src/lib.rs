//! One module per Lambda function, named after its binary (`billing-summary` ->
//! `billing_summary`). Each `handle` parses the event, calls a use case of `billing_shared` and
//! maps the result; the bins in `src/bin/` only build the `App` once and serve `handle`.
//! `ROUTES` and `dispatch` are generated from template.yaml (see build.rs): the local gateway
//! and the `$default` route's 405 answers use them.

pub mod admin_limit_signals;
pub mod approve_page;
pub mod authorizer;
pub mod billing_approval;
pub mod billing_approval_approve;
pub mod billing_approval_deny;
pub mod billing_checkout;
pub mod billing_downgrade;
pub mod billing_invoices;
pub mod billing_limits;
pub mod billing_plans;
pub mod billing_portal;
pub mod billing_summary;
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
pub mod stripe_webhook;
pub mod usage_release;
pub mod usage_reserve;

use std::future::Future;

use billing_shared::{App, telemetry};
use lambda_http::{Body, Request, Response, service_fn};

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
    serve(App::from_env().await?.with_stripe().await, handle).await
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
