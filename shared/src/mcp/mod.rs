//! `POST /mcp`: the API's operations as MCP tools for AI agents. The official Rust SDK (`rmcp`)
//! speaks the protocol: its Streamable HTTP service, stateless (no sessions, nothing kept
//! between requests, as a Lambda keeps nothing) and answering plain JSON (no SSE streams).
//! `tools` is the tool table over the same use cases as the REST routes, `schema` builds the
//! tools' schemas from the OpenAPI document's types.
//!
//! The bearer key is checked before this runs (the authorizer, then `http::principal`), so every
//! tool acts as that key's principal: an AGENT's plan changes need its human's consent exactly as
//! over REST.

#[cfg(test)]
mod schema;
#[cfg(test)]
mod table;
pub mod tools;

use std::sync::Arc;

use http_body_util::BodyExt;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientJsonRpcMessage, ErrorData, Implementation, JsonRpcError, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler};
use serde_json::Value;

use crate::billing::Caller;
use crate::domain::principal::Principal;
use crate::http::MAX_BODY_BYTES;
use crate::{App, now};

const INSTRUCTIONS: &str = "Billing for this org: its plan, limits and usage, invoices, credits. Before creating something \
the plan caps, call reserve_usage; a plan_limit_reached error names the next step in details.upgrade.mcpTool and \
details.increase.mcpTool. Plan changes cost money: upgrade_plan, downgrade_plan and end_trial never change anything on an \
agent's first call; they return a message to show your human and a confirm_token to send back only on their yes. buy_credits \
charges the org's card only inside a mandate your human granted (request_mandate asks for one); otherwise it gives you a \
Checkout link for your human.";

/// One request's MCP server: the tools, acting as the key's principal.
#[derive(Clone)]
struct BillingMcp {
    app: App,
    principal: Principal,
    base_url: String,
    request_id: String,
}

impl ServerHandler for BillingMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("stripe-billing-api", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::all().to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::find(name).cloned()
    }

    async fn call_tool(&self, request: CallToolRequestParams, _context: RequestContext<RoleServer>) -> Result<CallToolResponse, ErrorData> {
        // An unknown tool is a protocol error (the spec's "invalid params"); everything a tool
        // refuses is a tool result the model reads.
        let Some(name) = tools::known(&request.name) else {
            return Err(ErrorData::invalid_params(format!("No tool `{}`: call tools/list.", request.name), None));
        };
        let caller = Caller { principal: &self.principal, base_url: &self.base_url };
        let arguments = request.arguments.unwrap_or_default();
        // The SDK may run this on a task of its own: its records still name the request.
        let call = tools::call(&self.app, &caller, name, &arguments, now());
        let answer = crate::telemetry::with_request_id(self.request_id.clone(), call).await;
        // A tool's refusal counts toward the key's brake as the same refusal over REST does.
        if let Err(err) = &answer {
            crate::billing::brake::count_refusal(&self.app, &self.principal, err.status(), now()).await;
        }
        Ok(tools::result(name, answer, &self.request_id).into())
    }
}

/// A JSON-RPC error answer (no id: the request's could not be read).
fn jsonrpc_error(status: StatusCode, error: ErrorData) -> Response<Body> {
    let body = serde_json::to_string(&JsonRpcError::new(None, error)).unwrap_or_default();
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A body that is not one JSON-RPC message gets JSON-RPC's own error (rmcp answers it with a
/// plain-text 415): not JSON -> parse error, JSON of another shape -> invalid request.
fn unreadable(body: &[u8]) -> Option<Response<Body>> {
    let error = match serde_json::from_slice::<Value>(body) {
        Err(problem) => ErrorData::parse_error(format!("The body is not JSON: {problem}."), None),
        Ok(_) => {
            let problem = serde_json::from_slice::<ClientJsonRpcMessage>(body).err()?;
            ErrorData::invalid_request(format!("The body is not a JSON-RPC request or notification: {problem}."), None)
        }
    };
    Some(jsonrpc_error(StatusCode::BAD_REQUEST, error))
}

/// Whether the client takes a JSON answer: no `Accept`, or one naming JSON or any type.
fn accepts_json(accept: Option<&HeaderValue>) -> bool {
    accept.and_then(|v| v.to_str().ok()).is_none_or(|accept| {
        accept
            .split(',')
            .map(|range| range.split(';').next().unwrap_or_default().trim())
            .any(|range| matches!(range, "application/json" | "application/*" | "*/*"))
    })
}

/// Serves one `POST /mcp` for `principal`: `base_url` is the API's public origin (for approval
/// links), `request_id` goes into error envelopes.
pub async fn serve(app: &App, principal: Principal, base_url: String, request_id: String, mut req: Request) -> Response<Body> {
    if let Some(refusal) = unreadable(req.body().as_ref()) {
        return refusal;
    }
    // MCP asks clients to accept SSE too, and rmcp refuses those that do not (406); this server
    // only ever answers JSON, so a client that takes JSON is served.
    if accepts_json(req.headers().get(header::ACCEPT)) {
        req.headers_mut().insert(header::ACCEPT, HeaderValue::from_static("application/json, text/event-stream"));
    }
    let server = BillingMcp { app: app.clone(), principal, base_url, request_id };
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        // rmcp's Host allow-list guards a local server against DNS rebinding; this one is
        // public behind API Gateway and answers nothing without a bearer key.
        .disable_allowed_hosts();
    let service = StreamableHttpService::new(move || Ok(server.clone()), Arc::new(NeverSessionManager::default()), config);
    // Boxed: rmcp's future is large, and the local gateway holds every handler's future in one.
    let (parts, body) = Box::pin(service.handle(req)).await.into_parts();
    let bytes = body.collect().await.map(|collected| collected.to_bytes()).unwrap_or_default();
    let is_json = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("application/json"));
    if parts.status.is_client_error() && !is_json {
        // rmcp refuses a transport-level problem (Accept, Content-Type, size) in plain text;
        // the client gets it as a JSON-RPC error with the same status.
        return jsonrpc_error(parts.status, ErrorData::invalid_request(String::from_utf8_lossy(&bytes).into_owned(), None));
    }
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) if text.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(binary) => Body::Binary(binary.into_bytes()),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str) -> Value {
        let response = unreadable(body.as_bytes()).expect("refused");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn malformed_json_rpc_gets_a_json_rpc_error() {
        let cut = refusal(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list""#);
        assert_eq!((&cut["jsonrpc"], &cut["error"]["code"], cut.get("id")), (&Value::from("2.0"), &Value::from(-32700), None));
        assert!(cut["error"]["message"].as_str().unwrap().starts_with("The body is not JSON: EOF"), "{cut}");
        assert_eq!(refusal("")["error"]["code"], -32700);
        assert_eq!(refusal(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"} x"#)["error"]["code"], -32700);
        assert_eq!(refusal(r#"{"hello": "world"}"#)["error"]["code"], -32600);
        assert!(unreadable(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).is_none());
        assert!(unreadable(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).is_none());
        // The document's id bounds are rmcp's: 64-bit integers or strings.
        assert!(unreadable(br#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"ping","extra":{}}"#).is_none());
        assert_eq!(refusal(r#"{"jsonrpc":"2.0","id":9223372036854775808,"method":"ping"}"#)["error"]["code"], -32600);
    }

    #[test]
    fn clients_that_take_json_are_served_json() {
        for accept in ["application/json", "application/json, text/event-stream", "*/*", "text/html;q=0.9, application/*;q=0.8"] {
            assert!(accepts_json(Some(&HeaderValue::from_static(accept))), "{accept}");
        }
        assert!(accepts_json(None));
        assert!(!accepts_json(Some(&HeaderValue::from_static("text/html"))));
        assert!(!accepts_json(Some(&HeaderValue::from_static("text/event-stream"))));
    }
}
