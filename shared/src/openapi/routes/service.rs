//! The routes that are not the API's own calls: Stripe's webhook, `POST /mcp` and the document itself.

// The builders and the types the document names.
use crate::openapi::*;

pub(in crate::openapi) fn operations() -> Vec<Operation> {
    use ErrorKind::*;
    vec![
        Operation {
            method: HttpMethod::Post,
            path: "/stripe/webhook",
            id: "receiveStripeEvent",
            tag: "webhooks",
            summary: "Stripe event deliveries",
            description: "For Stripe only: no bearer key, the `Stripe-Signature` (HMAC-SHA256 of the raw body, 300 s tolerance) \
                is the authentication. Each event id is applied at most once, never over newer state. 200 once the effect is \
                durable or the event needs nothing; 5xx makes Stripe deliver it again.",
            keyless: true,
            parameters: vec![parameter(
                "Stripe-Signature",
                ParameterIn::Header,
                true,
                "Stripe's signature of the raw body: `t=<timestamp>,v1=<hex HMAC>`.",
                ObjectBuilder::new().schema_type(Type::String).into(),
                json!("t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"),
            )],
            body: Some(
                RequestBodyBuilder::new()
                    .description(Some("The event exactly as Stripe sent it."))
                    .required(Some(Required::True))
                    .content(JSON, json_content(Ref::from_schema_name("StripeEvent").into(), vec![("checkout-completed", webhook_event())]))
                    .build(),
            ),
            ok: ok("WebhookReceipt", "Received; Stripe stops retrying.", vec![("applied", examples::webhook_receipt())]),
            created: false,
            errors: kinds(&[&[InvalidSignature, MalformedJson, ValidationFailed, Conflict, StripeError, ServiceUnavailable, StorageUnavailable, Internal]]),
            others: Vec::new(),
            samples: vec![
                ApiError::field("event", "must have id, type and created"),
                ApiError::new(MalformedJson, "The event is not valid JSON: EOF while parsing an object at line 1 column 1."),
            ],
        },
        Operation {
            method: HttpMethod::Post,
            path: "/mcp",
            id: "mcp",
            tag: "mcp",
            summary: "The operations as MCP tools, for AI agents",
            description: "A Model Context Protocol server (Streamable HTTP transport, stateless: no sessions, every answer plain \
                JSON) with the tools get_billing, list_plans, get_limits, reserve_usage, release_usage, upgrade_plan, \
                downgrade_plan, check_approval, open_billing_portal, list_invoices, request_limit_increase, spend_credits, list_activity, request_mandate and get_mandate, \
                each the use case of its REST route, acting as the key's principal (an AGENT's plan changes need its \
                human's consent, as over REST). Send `Accept: application/json, text/event-stream`. A tool's refusal is a \
                `tools/call` result with `isError: true` and the REST error envelope as `structuredContent` (a plan cap's \
                `details` name `upgrade.mcpTool` and `increase.mcpTool`); a message that is not JSON-RPC gets a JSON-RPC \
                error. GET and DELETE answer 405: there are no sessions or server-sent streams.",
            keyless: false,
            parameters: Vec::new(),
            body: body(
                "JsonRpcRequest",
                true,
                vec![
                    ("initialize", json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "my-agent", "version": "1.0" } } })),
                    ("tools-list", json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" })),
                    ("reserve-an-agent", json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": { "name": "reserve_usage", "arguments": { "resource": "agents", "idempotency_key": "create-agent-7" } } })),
                ],
            ),
            ok: ok(
                "JsonRpcResponse",
                "The JSON-RPC response.",
                vec![
                    ("reserved", json!({ "jsonrpc": "2.0", "id": 3, "result": { "content": [{ "type": "text", "text": value(examples::reserved()).to_string() }], "structuredContent": value(examples::reserved()), "isError": false } })),
                    ("plan-limit-reached", json!({ "jsonrpc": "2.0", "id": 3, "result": { "content": [{ "type": "text", "text": examples::error(ErrorKind::PlanLimitReached).message }], "structuredContent": examples::error(ErrorKind::PlanLimitReached).envelope(examples::REQUEST_ID), "isError": true } })),
                ],
            ),
            created: false,
            errors: kinds(&[&KEYED]),
            others: vec![
                (202, ResponseBuilder::new().description("A notification (e.g. `notifications/initialized`), accepted; no body.").build()),
                (400, jsonrpc_error("The body is not a JSON-RPC message.", -32700, "The body is not JSON: expected value at line 1 column 1")),
                (406, jsonrpc_error("`Accept` lacks `application/json` or `text/event-stream`.", -32600, "Not Acceptable: Client must accept both application/json and text/event-stream")),
                (413, jsonrpc_error("The body is larger than 16 KiB.", -32600, "Payload Too Large: request body exceeds 16384 bytes")),
                (415, jsonrpc_error("The body is not `Content-Type: application/json`.", -32600, "Unsupported Media Type: Content-Type must be application/json")),
            ],
            samples: Vec::new(),
        },
        Operation {
            method: HttpMethod::Get,
            path: "/openapi.json",
            id: "getOpenApiDocument",
            tag: "document",
            summary: "This document",
            description: "The OpenAPI 3.1 description of every route, generated from the code. No key needed.",
            keyless: true,
            parameters: Vec::new(),
            body: None,
            ok: ResponseBuilder::new()
                .description("The document.")
                .content(
                    JSON,
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                        .examples_from_iter([("head", ExampleBuilder::new().value(Some(json!({ "openapi": "3.1.0", "info": { "title": "Stripe billing API", "version": env!("CARGO_PKG_VERSION") } }))).build())])
                        .build(),
                )
                .build(),
            created: false,
            errors: Vec::new(),
            others: Vec::new(),
            samples: Vec::new(),
        },
    ]
}

fn webhook_event() -> StripeEvent {
    StripeEvent {
        id: "evt_1Qc3Vd4Bf5Gh".into(),
        event_type: "checkout.session.completed".into(),
        created: examples::NOW,
        data: StripeEventData {
            object: json!({
                "id": examples::SESSION_ID,
                "object": "checkout.session",
                "mode": "subscription",
                "status": "complete",
                "payment_status": "paid",
                "customer": "cus_Q1w2E3r4T5y6",
                "subscription": "sub_1Qa2Ws3Ed4Rf",
                "client_reference_id": "org_acme",
            }),
        },
    }
}

/// A JSON-RPC error answer of `POST /mcp`.
fn jsonrpc_error(description: &str, code: i64, message: &str) -> Response {
    let example = json!({ "jsonrpc": "2.0", "error": { "code": code, "message": message } });
    ResponseBuilder::new()
        .description(description)
        .content(JSON, json_content(Ref::from_schema_name("JsonRpcResponse").into(), vec![("error", example)]))
        .build()
}
