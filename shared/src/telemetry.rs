//! Structured JSON logs (one object a line), level from `RUST_LOG` (default `info`), and the
//! span each invocation's lines are written in.

use tracing_subscriber::EnvFilter;

/// The MCP SDK's directive unless `RUST_LOG` has one: at `info` it logs every stateless
/// request's session setup, in `Debug` text and in spans of its own, which would hide the
/// request's span from the lines of the tool call; its warnings and errors stay.
const RMCP_DIRECTIVE: &str = "rmcp=warn";

pub fn init() {
    let levels = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let levels = if levels.contains("rmcp") { levels } else { format!("{levels},{RMCP_DIRECTIVE}") };
    let filter = EnvFilter::try_new(levels).unwrap_or_else(|_| EnvFilter::new(format!("info,{RMCP_DIRECTIVE}")));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Starts an invocation: the metric properties of the one before are dropped
/// (`metrics::invocation_started`), and the span returned is the one its log lines are written
/// in. It carries the API's request id (the one error envelopes carry; none outside the HTTP
/// API), Lambda's request id and the X-Ray trace id, the last two as the invocation's EMF
/// documents do: from any one of them an operator finds the others. HTTP serving records
/// `method` and `path` on it.
pub fn invocation(request_id: Option<&str>, lambda: Option<&lambda_http::Context>) -> tracing::Span {
    crate::metrics::invocation_started();
    tracing::info_span!(
        "request",
        request_id,
        // The local run's stand-in context has none.
        lambda_request_id = lambda.map(|c| c.request_id.as_str()).filter(|id| !id.is_empty()),
        trace_id = lambda.and_then(|c| c.xray_trace_id.as_deref()),
        method = tracing::field::Empty,
        path = tracing::field::Empty,
    )
}

tokio::task_local! {
    /// The API request being served: what its activity records name.
    static REQUEST_ID: String;
}

/// Runs `work` as the serving of request `request_id` (see `current_request_id`).
pub fn with_request_id<F: std::future::Future>(request_id: String, work: F) -> impl std::future::Future<Output = F::Output> {
    REQUEST_ID.scope(request_id, work)
}

/// The id of the API request being served, if this task serves one (none for the reconciler).
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
