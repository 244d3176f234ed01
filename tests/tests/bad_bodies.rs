//! Every POST route of template.yaml against one table of bad bodies: each answers its 4xx
//! envelope (never a 500), writes nothing and calls Stripe never. Routes join the table by being
//! in template.yaml; `VALID` names a good body where a route needs fields, so the table can also
//! send it with a duplicated or mistyped field.
//!
//! Unknown fields are refused (400 naming the field), so a typo never silently drops a setting.
//! `POST /mcp` speaks JSON-RPC: its refusals are JSON-RPC errors, with a 4xx status all the same.

use billing_functions::{DEFAULT_ROUTE, ROUTES};
use billing_shared::http::MAX_BODY_BYTES;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{Reply, assert_envelope};
use serde_json::Value;

const MCP: &str = "/mcp";

/// A valid body for the routes that require fields.
const VALID: &[(&str, &str)] = &[
    ("/billing/checkout", r#"{"plan":"pro","interval":"month"}"#),
    ("/billing/credits/checkout", r#"{"quantity":1}"#),
    ("/billing/portal", r#"{"return_url":"https://app.example.com/billing"}"#),
];

struct BadBody {
    what: &'static str,
    body: Vec<u8>,
    content_type: Option<&'static str>,
    /// The status and error type, where every JSON route answers the same.
    expect: (u16, &'static str),
}

fn bad(what: &'static str, body: impl Into<Vec<u8>>, expect: (u16, &'static str)) -> BadBody {
    BadBody { what, body: body.into(), content_type: Some("application/json"), expect }
}

/// The bad bodies for a route whose valid body is `valid`: the holes are shown on a body that
/// would otherwise be accepted.
fn table(valid: &str) -> Vec<BadBody> {
    let deep = format!("{}1{}", r#"{"a":"#.repeat(200), "}".repeat(200));
    let with_unknown = format!(r#"{},"colour":"red"}}"#, valid.trim_end_matches('}')).replace("{,", "{");
    let malformed = (400, "malformed_json");
    let invalid = (400, "validation_failed");
    vec![
        bad("trailing data", format!("{valid} x"), malformed),
        bad("a second object", format!("{valid}{{}}"), malformed),
        bad("an empty array", "[]", invalid),
        bad("an array of values", r#"["pro","month"]"#, invalid),
        bad("an array of one number", "[1]", invalid),
        bad("null", "null", invalid),
        bad("a number", "7", invalid),
        bad("a string", r#""pro""#, invalid),
        bad("true", "true", invalid),
        bad("an unknown field", with_unknown, invalid),
        bad("a UTF-8 BOM", format!("\u{feff}{valid}"), malformed),
        bad("deep nesting", deep, malformed),
        bad("invalid UTF-8", vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'], malformed),
        bad("not JSON at all", "plan=pro", malformed),
        bad("only whitespace", " \n", malformed),
        bad("a body over the limit", format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_BODY_BYTES)), (413, "payload_too_large")),
        BadBody { what: "no content type", body: valid.as_bytes().to_vec(), content_type: None, expect: (415, "unsupported_media_type") },
        BadBody {
            what: "a form content type",
            body: valid.as_bytes().to_vec(),
            content_type: Some("text/plain"),
            expect: (415, "unsupported_media_type"),
        },
    ]
}

/// The table's variants of a route's valid body: each field duplicated, and each field mistyped.
fn variants_of(valid: &str) -> Vec<(String, Vec<u8>)> {
    let Value::Object(fields) = serde_json::from_str(valid).unwrap() else { unreachable!("valid bodies are objects") };
    let mut variants = Vec::new();
    for (name, value) in &fields {
        let inner = valid.trim_start_matches('{').trim_end_matches('}');
        variants.push((format!("duplicate `{name}`"), format!(r#"{{{inner},"{name}":{value}}}"#).into_bytes()));
        for wrong in [r#"{"x":1}"#, "[1]", "true"] {
            let mut changed = fields.clone();
            changed.insert(name.clone(), serde_json::from_str(wrong).unwrap());
            variants.push((format!("`{name}` as {wrong}"), Value::Object(changed).to_string().into_bytes()));
        }
    }
    variants
}

async fn post(api: &StripeTestApi, path: &str, token: &str, body: &[u8], content_type: Option<&str>) -> Reply {
    let mut req = http::Request::builder().method("POST").uri(path).header("authorization", format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        req = req.header("content-type", content_type);
    }
    api.request(req.body(body.to_vec()).unwrap()).await
}

fn sample_path(pattern: &str) -> String {
    pattern.replace("{resource}", "agents").split('/').map(|s| if s.starts_with('{') { "x_1" } else { s }).collect::<Vec<_>>().join("/")
}

#[tokio::test]
async fn every_post_route_refuses_every_bad_body_with_its_envelope_and_changes_nothing() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let before = api.items().await;
    let routes: Vec<_> = ROUTES.iter().filter(|r| r.method == "POST" && r.path != DEFAULT_ROUTE).collect();
    assert!(routes.len() >= 4, "the POST routes of template.yaml: {routes:?}");
    for route in routes {
        let path = sample_path(route.path);
        let exact = route.path == path && route.authorized;
        let valid = VALID.iter().find(|(p, _)| *p == route.path).map_or("{}", |(_, body)| body);
        for case in table(valid) {
            let reply = post(&api, &path, &token, &case.body, case.content_type).await;
            assert!((400..500).contains(&reply.status), "{} {path} with {}: {} {}", route.method, case.what, reply.status, reply.body);
            if path == MCP {
                assert_eq!(reply.body["jsonrpc"], "2.0", "{path} with {}: {}", case.what, reply.body);
                assert!(reply.body["error"]["code"].as_i64().is_some_and(|code| code < 0), "{path} with {}: {}", case.what, reply.body);
                continue;
            }
            assert_envelope(&reply, reply.status, reply.body["error"].as_str().unwrap_or("(no error type)"));
            match (exact, route.authorized) {
                (true, _) => {
                    assert_eq!(
                        (reply.status, reply.body["error"].as_str().unwrap()),
                        case.expect,
                        "{path} with {}: {}",
                        case.what,
                        reply.body
                    )
                }
                // The webhook's signature is checked before its body is read.
                (_, false) => assert_eq!(reply.body["error"], "invalid_signature", "{path} with {}", case.what),
                _ => {}
            }
        }
        if valid != "{}" {
            for (what, body) in variants_of(valid) {
                let reply = post(&api, &path, &token, &body, Some("application/json")).await;
                assert_eq!(reply.body["error"], "validation_failed", "{path} with {what}: {}", String::from_utf8_lossy(&body));
                assert_envelope(&reply, 400, "validation_failed");
                assert!(reply.body["details"]["fields"][0]["field"].is_string(), "{path} with {what}: {}", reply.body);
            }
        }
    }
    assert!(api.standin.requests().is_empty(), "no Stripe call for a bad body: {:?}", api.standin.requests());
    assert_eq!(api.items().await, before, "nothing written for a bad body");
}

#[tokio::test]
async fn the_reported_holes_are_closed() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let before = api.items().await;
    let json = Some("application/json");
    let reply = post(&api, "/billing/checkout", &token, br#"{"plan":"pro","interval":"month"} x"#, json).await;
    assert_envelope(&reply, 400, "malformed_json");
    let reply = post(&api, "/billing/credits/checkout", &token, b"[1]", json).await;
    assert_envelope(&reply, 400, "validation_failed");
    let reply = post(&api, "/billing/checkout", &token, br#"["pro","month"]"#, json).await;
    assert_envelope(&reply, 400, "validation_failed");
    for (path, body, field) in [
        ("/billing/credits/checkout", r#"{"quantity":1,"success_url":"https://app.example.com/\u007f"}"#, "success_url"),
        ("/billing/credits/checkout", r#"{"quantity":1,"cancel_url":"https://app.example.com/a b"}"#, "cancel_url"),
        ("/billing/checkout", r#"{"plan":"pro","interval":"month","success_url":"https://app.example.com/\n"}"#, "success_url"),
        ("/billing/portal", r#"{"return_url":"https://app.example.com/\u0000"}"#, "return_url"),
    ] {
        let reply = post(&api, path, &token, body.as_bytes(), json).await;
        assert_envelope(&reply, 400, "validation_failed");
        assert_eq!(reply.body["details"]["fields"][0]["field"], field, "{path} {body}: {}", reply.body);
    }
    assert!(api.standin.requests().is_empty(), "no Stripe call: {:?}", api.standin.requests());
    assert_eq!(api.items().await, before, "nothing written");
}

/// Found by Schemathesis: JSON Schema's integers include `2.0` (a client's encoder may write it),
/// and values past a documented maximum were taken.
#[tokio::test]
async fn whole_floats_are_integers_and_values_past_the_documented_range_are_refused() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    let json = Some("application/json");
    let reply = post(&api, "/billing/usage/rows/reserve", &token, br#"{"count":2.0}"#, json).await;
    assert_eq!((reply.status, reply.body["reserved"].as_u64()), (200, Some(2)), "{}", reply.body);
    let reply = post(&api, "/billing/usage/rows/release", &token, br#"{"count":1e0}"#, json).await;
    assert_eq!((reply.status, reply.body["released"].as_u64()), (200, Some(1)), "{}", reply.body);
    let reply = post(&api, "/billing/request-limit-increase", &token, br#"{"kind":"rows","desiredValue":5000.0}"#, json).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let before = api.items().await;
    for (path, body, field) in [
        ("/billing/usage/rows/reserve", r#"{"count":2.5}"#, "count"),
        ("/billing/usage/rows/reserve", r#"{"count":-1.0}"#, "count"),
        ("/billing/credits/spend", r#"{"amount":1.5}"#, "amount"),
        ("/billing/credits/checkout", r#"{"quantity":1.5}"#, "quantity"),
        ("/billing/request-limit-increase", r#"{"desiredValue":9223372036854775808}"#, "desiredValue"),
        ("/billing/request-limit-increase", r#"{"desiredValue":1000000000001}"#, "desiredValue"),
    ] {
        let reply = post(&api, path, &token, body.as_bytes(), json).await;
        assert_envelope(&reply, 400, "validation_failed");
        assert_eq!(reply.body["details"]["fields"][0]["field"], field, "{path} {body}: {}", reply.body);
    }
    assert_eq!(api.items().await, before, "nothing written");
}
