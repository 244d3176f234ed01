//! The schemas of `POST /mcp`: JSON-RPC 2.0 messages of MCP's Streamable HTTP transport. rmcp
//! reads and writes them (`billing_shared::mcp`); these describe them for the document, and the
//! tests parse the request examples with rmcp's own message type.

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::{Number, ToSchema};

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum JsonRpcVersion {
    #[serde(rename = "2.0")]
    V2,
}

/// A JSON-RPC id: a string or an integer that fits 64 bits (rmcp refuses a larger one as not a
/// JSON-RPC message).
fn id_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::String, Type::Integer]))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(Number::Int(i64::MIN as isize)))
        .maximum(Some(Number::Int(i64::MAX as isize)))
        .into()
}

/// Any JSON value.
fn any_schema() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(SchemaType::AnyValue).into()
}

/// A JSON-RPC request (with `id`) or notification (without): `initialize`, `tools/list`,
/// `tools/call` `{name, arguments}`, `ping`, `notifications/initialized`...
#[derive(Debug, Serialize, ToSchema)]
pub struct JsonRpcRequest {
    pub jsonrpc: JsonRpcVersion,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = id_schema)]
    pub id: Option<Value>,
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
}

/// A JSON-RPC error: `-32700` the body is not JSON, `-32600` not a JSON-RPC message (or the
/// transport refused it: `Accept`, `Content-Type`, size), `-32601` unknown method, `-32602`
/// invalid params (e.g. an unknown tool). A tool's own refusal is not one of these: it is a
/// `tools/call` result with `isError: true` and the REST error envelope as `structuredContent`.
#[derive(Debug, Serialize, ToSchema)]
pub struct JsonRpcErrorObject {
    pub code: i64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = any_schema)]
    pub data: Option<Value>,
}

/// A JSON-RPC response: `result` (for `tools/call`: `{content, structuredContent, isError}`) or
/// `error`; `id` is the request's, absent when it could not be read.
#[derive(Debug, Serialize, ToSchema)]
pub struct JsonRpcResponse {
    pub jsonrpc: JsonRpcVersion,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = id_schema)]
    pub id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<JsonRpcErrorObject>,
}
