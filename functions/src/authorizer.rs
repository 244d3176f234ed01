//! HTTP API Lambda authorizer (simple responses): `Authorization: Bearer <key>` -> principal.
//!
//! It always lets the request through and passes either the principal or the reason in the
//! context: API Gateway answers a denial with its own 403 body, while the API promises a 401 in
//! its envelope. Every authenticated handler starts with `http::principal`, which turns a
//! context without a principal into that 401, so nothing is served without one.

use aws_lambda_events::apigw::{ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request};
use billing_shared::billing::authenticate::authenticate;
use billing_shared::domain::api_key;
use billing_shared::http::{CTX_AUTH_ERROR, CTX_KEY_ID, CTX_KIND, CTX_ORG_ID, CTX_PRINCIPAL_ID};
use billing_shared::{App, ErrorKind, telemetry};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tracing::Instrument;

pub async fn handle(app: &App, event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    // The API's request id, which the routed function's log lines carry too.
    let span = telemetry::invocation(event.payload.request_context.request_id.as_deref(), Some(&event.context));
    decide(app, event.payload).instrument(span).await
}

async fn decide(app: &App, event: ApiGatewayV2CustomAuthorizerV2Request) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let token = event.headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(api_key::bearer);
    let context = match authenticate(&app.store, token).await {
        Ok(p) => json!({ CTX_ORG_ID: p.org_id, CTX_PRINCIPAL_ID: p.principal_id, CTX_KEY_ID: p.key_id, CTX_KIND: p.kind }),
        Err(err) if err.kind == ErrorKind::StorageUnavailable => json!({ CTX_AUTH_ERROR: err.kind.code() }),
        Err(err) => {
            tracing::info!(reason = err.kind.code(), "request not authenticated");
            Value::Object(Default::default())
        }
    };
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    response.is_authorized = true;
    response.context = context;
    response
}
