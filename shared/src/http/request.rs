//! Reading a request: its id, the principal the authorizer resolved, path and query
//! parameters, and JSON bodies (strict: one JSON object, nothing after it, known fields only).

use lambda_http::http::header;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::invalid::FieldProblem;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::error::{ApiError, ErrorKind};

/// JSON bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Context keys the authorizer passes to functions (`requestContext.authorizer.lambda`).
pub const CTX_ORG_ID: &str = "org_id";
pub const CTX_PRINCIPAL_ID: &str = "principal_id";
pub const CTX_KEY_ID: &str = "key_id";
pub const CTX_KIND: &str = "kind";
/// Set instead of a principal when the authorizer could not decide (e.g. storage down).
pub const CTX_AUTH_ERROR: &str = "auth_error";
/// Set beside the principal of an AGENT key the brake paused: until when (epoch seconds).
pub const CTX_PAUSED_UNTIL: &str = "paused_until";

/// API Gateway's request id (also in the `apigw-requestid` response header), else Lambda's.
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
    .unwrap_or_else(|| "unknown".to_string())
}

fn authorizer_context(req: &Request) -> Option<&std::collections::HashMap<String, Value>> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.authorizer.as_ref().map(|a| &a.fields),
        _ => None,
    }
}

/// The principal the authorizer resolved. Every authenticated handler starts here: without one
/// the answer is 401, so a request that slipped past the authorizer still gets nothing.
pub fn principal(req: &Request) -> Result<Principal, ApiError> {
    let ctx = authorizer_context(req).ok_or_else(ApiError::unauthorized)?;
    let text = |key: &str| ctx.get(key).and_then(Value::as_str);
    if text(CTX_AUTH_ERROR) == Some(ErrorKind::StorageUnavailable.code()) {
        return Err(ApiError::storage("authorize"));
    }
    match (text(CTX_ORG_ID), text(CTX_PRINCIPAL_ID), text(CTX_KEY_ID), text(CTX_KIND).and_then(PrincipalKind::parse)) {
        (Some(org_id), Some(principal_id), Some(key_id), Some(kind)) => {
            let principal =
                Principal { org_id: org_id.to_string(), principal_id: principal_id.to_string(), key_id: key_id.to_string(), kind };
            crate::metrics::principal(&principal);
            Ok(principal)
        }
        _ => Err(ApiError::unauthorized()),
    }
}

/// The caller the authorizer resolved, if any, and until when the brake pauses its key: what
/// the shared request path reads before and after a handler, without answering for it.
pub fn caller(req: &Request) -> Option<(Principal, Option<i64>)> {
    let principal = principal(req).ok()?;
    let paused_until = authorizer_context(req)?.get(CTX_PAUSED_UNTIL).and_then(Value::as_i64);
    Some((principal, paused_until))
}

/// The `Idempotency-Key` header, checked (`None` when absent).
pub fn idempotency_key(req: &Request) -> Result<Option<crate::billing::idempotency::IdempotencyKey>, ApiError> {
    let mut values = req.headers().get_all("idempotency-key").iter();
    let Some(first) = values.next() else { return Ok(None) };
    let text = match (first.to_str(), values.next()) {
        (Ok(text), None) => text,
        _ => "",
    };
    crate::billing::idempotency::IdempotencyKey::parse(text).map(Some)
}

/// A path parameter of the route (`/billing/limits/{resource}`).
pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref().and_then(|p| p.first(name)).map(str::to_string)
}

/// A query parameter; a repeated parameter is refused rather than silently picking one.
pub fn query_param(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    let Some(params) = req.query_string_parameters_ref() else { return Ok(None) };
    match params.all(name).as_deref() {
        None => Ok(None),
        Some([one]) => Ok(Some(one.to_string())),
        Some(_) => Err(ApiError::field(name, "must be given once")),
    }
}

/// Refuses query parameters a route does not know, so a typo is not silently ignored.
pub fn only_query_params(req: &Request, known: &[&str]) -> Result<(), ApiError> {
    let Some(params) = req.query_string_parameters_ref() else { return Ok(()) };
    let problems: Vec<_> = params
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !known.contains(name))
        .map(|name| FieldProblem::new(name, "is not a parameter of this route"))
        .collect();
    if problems.is_empty() { Ok(()) } else { Err(ApiError::validation(problems)) }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The field a serde data error is about: its path, or the name in "unknown field `x`".
fn field_of(path: &str, message: &str) -> String {
    let names_a_field = ["unknown field", "missing field", "duplicate field"].iter().any(|start| message.starts_with(start));
    let quoted = message.split('`').nth(1).filter(|_| names_a_field);
    match (path, quoted) {
        (".", Some(name)) => name.to_string(),
        (path, Some(name)) if !message.starts_with("unknown field") => format!("{path}.{name}"),
        (".", None) => "(body)".to_string(),
        (path, _) => path.to_string(),
    }
}

/// Fields a client might send to set a price itself: refused with their own reason, because
/// prices are resolved server side from the catalog.
const SERVER_SIDE_FIELDS: [&str; 4] = ["price", "price_id", "product", "product_id"];

fn data_problem(path: &str, message: &str) -> FieldProblem {
    let field = field_of(path, message);
    let problem = match message.split(' ').take(2).collect::<Vec<_>>().join(" ").as_str() {
        "unknown field" if SERVER_SIDE_FIELDS.contains(&field.as_str()) => {
            "is not accepted: prices are set by the server from the plan catalog"
        }
        "unknown field" => "is not a field of this request",
        "missing field" => "is required",
        "duplicate field" => "is given more than once",
        _ => message,
    };
    FieldProblem::new(field, problem)
}

/// Parses a JSON request body into `T` (which should deny unknown fields). An empty body is `{}`.
/// Oversized -> 413, not JSON -> 415, unparsable or anything after the value -> 400
/// malformed_json, not an object or a wrong shape -> 400 validation_failed with the field at fault.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("The body is {} bytes; at most {MAX_BODY_BYTES} are accepted.", bytes.len()),
        ));
    }
    // Only no body at all is `{}`: whitespace alone is not a JSON text.
    let bytes: &[u8] = if bytes.is_empty() {
        b"{}"
    } else if is_json(req) {
        bytes
    } else {
        return Err(ApiError::new(ErrorKind::UnsupportedMediaType, "Send the body as `Content-Type: application/json`."));
    };
    json_object(bytes)
}

/// Parses JSON text that must be one object into `T` (which should deny unknown fields), as
/// `json_body` does: unparsable or anything after the value -> 400 malformed_json, not an
/// object or a wrong shape -> 400 validation_failed with the field at fault.
pub fn json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // First the syntax: one JSON value and nothing after it. Only then the shape, so a value of
    // the wrong type is always the field's problem, never "not JSON".
    let value: Value = serde_json::from_slice(bytes).map_err(|err| {
        let message = err.to_string();
        let problem = message.rsplit_once(" at line ").map_or(message.as_str(), |(head, _)| head).to_string();
        ApiError::new(ErrorKind::MalformedJson, format!("The body is not valid JSON: {problem}."))
    })?;
    // serde would fill a struct from an array by position; only an object is a request body.
    if !value.is_object() {
        return Err(ApiError::field("(body)", "must be a JSON object"));
    }
    // Read from the text, not the value, so a field given twice is refused rather than the last kept.
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes)).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let problem = message.rsplit_once(" at line ").map_or(message.as_str(), |(head, _)| head);
        ApiError::validation(vec![data_problem(&path, problem)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body_ {
        plan: String,
        quantity: Option<u32>,
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = lambda_http::http::Request::builder().method("POST").uri("/x");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.to_string())).unwrap()
    }

    fn parse(content_type: Option<&str>, body: &str) -> Result<Body_, ApiError> {
        json_body(&request(content_type, body))
    }

    fn field_and_code(err: ApiError) -> (String, &'static str) {
        let field = err.details.as_ref().map_or(String::new(), |d| d["fields"][0]["field"].as_str().unwrap().to_string());
        (field, err.kind.code())
    }

    #[test]
    fn valid_json_parses() {
        let body = parse(Some("application/json; charset=utf-8"), r#"{"plan":"pro","quantity":2}"#).unwrap();
        assert_eq!((body.plan.as_str(), body.quantity), ("pro", Some(2)));
    }

    #[test]
    fn each_bad_body_gets_its_own_error() {
        let json = Some("application/json");
        assert_eq!(field_and_code(parse(json, "{").unwrap_err()), (String::new(), "malformed_json"));
        assert_eq!(field_and_code(parse(json, r#"{"plan": "#).unwrap_err()), (String::new(), "malformed_json"));
        assert_eq!(field_and_code(parse(Some("text/plain"), r#"{"plan":"pro"}"#).unwrap_err()), (String::new(), "unsupported_media_type"));
        assert_eq!(field_and_code(parse(None, r#"{"plan":"pro"}"#).unwrap_err()), (String::new(), "unsupported_media_type"));
        assert_eq!(field_and_code(parse(json, r#"{"plan":7}"#).unwrap_err()), ("plan".into(), "validation_failed"));
        assert_eq!(field_and_code(parse(json, r#"{"plan":"pro","quantity":-1}"#).unwrap_err()), ("quantity".into(), "validation_failed"));
        assert_eq!(field_and_code(parse(json, r#"{"plan":"pro","price":"price_x"}"#).unwrap_err()), ("price".into(), "validation_failed"));
        assert_eq!(field_and_code(parse(json, r#"{"quantity":1}"#).unwrap_err()), ("plan".into(), "validation_failed"));
        assert_eq!(field_and_code(parse(json, "[]").unwrap_err()), ("(body)".into(), "validation_failed"));
        assert_eq!(field_and_code(parse(json, r#"["pro", 1]"#).unwrap_err()), ("(body)".into(), "validation_failed"));
        assert_eq!(field_and_code(parse(json, "null").unwrap_err()), ("(body)".into(), "validation_failed"));
        assert_eq!(field_and_code(parse(json, r#"{"plan":"pro"} x"#).unwrap_err()), (String::new(), "malformed_json"));
        assert_eq!(field_and_code(parse(json, r#"{"plan":"pro"}{}"#).unwrap_err()), (String::new(), "malformed_json"));
        assert_eq!(field_and_code(parse(json, r#"{"plan":"pro","plan":"x"}"#).unwrap_err()), ("plan".into(), "validation_failed"));
        assert_eq!(field_and_code(parse(json, "\u{feff}{}").unwrap_err()), (String::new(), "malformed_json"));
        assert_eq!(field_and_code(parse(json, " ").unwrap_err()), (String::new(), "malformed_json"));
        let huge = format!(r#"{{"plan":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert_eq!(field_and_code(parse(json, &huge).unwrap_err()), (String::new(), "payload_too_large"));
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        let err = parse(None, "").unwrap_err();
        assert_eq!(field_and_code(err), ("plan".into(), "validation_failed"));
    }

    #[test]
    fn no_authorizer_context_is_unauthorized() {
        let err = principal(&request(None, "")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unauthorized);
    }
}
