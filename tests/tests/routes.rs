//! template.yaml is the one list of functions: every bin has its template entry and every
//! template function its bin, named by one rule, and the local gateway serves exactly its routes.

use std::collections::BTreeSet;

use billing_functions::{BINARIES, DEFAULT_ROUTE, ROUTES};
use billing_infra::template::TEMPLATE;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{TestApi, assert_envelope};

fn pascal_case(binary: &str) -> String {
    binary.split('-').map(|word| word[..1].to_uppercase() + &word[1..]).collect()
}

#[test]
fn every_bin_has_a_template_function_and_every_function_a_bin() {
    let bin_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/src/bin");
    let bins: BTreeSet<String> = std::fs::read_dir(&bin_dir)
        .expect("functions/src/bin")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let functions: BTreeSet<String> = BINARIES.iter().map(|b| b.to_string()).collect();
    assert_eq!(bins, functions, "functions/src/bin/<binary>.rs and template.yaml's Metadata.BuildProperties.Binary differ");
    for binary in BINARIES {
        let resource = format!("\n  {}Function:\n", pascal_case(binary));
        assert!(TEMPLATE.contains(&resource), "binary `{binary}` must be the template resource `{}Function`", pascal_case(binary));
    }
}

#[tokio::test]
async fn the_local_gateway_serves_the_template_routes() {
    let api = TestApi::new().await;
    let served: BTreeSet<_> = api.gateway.routes().iter().map(|r| (r.method, r.path, r.binary)).collect();
    let template: BTreeSet<_> = ROUTES.iter().map(|r| (r.method, r.path, r.binary)).collect();
    assert_eq!(served, template);
    assert!(ROUTES.iter().all(|r| r.binary != "authorizer"), "the authorizer serves no route of its own");
}

#[tokio::test]
async fn every_template_route_reaches_its_handler() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    for route in api.gateway.routes().iter().filter(|r| r.path != DEFAULT_ROUTE) {
        let path = route.path.replace("{resource}", "agents").replace("{id}", "x").replace("{session_id}", "cs_x");
        let req = http::Request::builder()
            .method(route.method)
            .uri(&path)
            .header("authorization", format!("Bearer {token}"))
            .body(Vec::new())
            .unwrap();
        let reply = api.request(req).await;
        let unrouted = reply.body["message"].as_str().is_some_and(|m| m.starts_with("No route") || m.contains("is not a method of"));
        assert!(!unrouted && reply.status < 500, "{} {} did not reach its handler: {}", route.method, path, reply.body);
    }
}

#[tokio::test]
async fn unknown_paths_get_404_and_known_paths_with_another_method_405() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    assert_envelope(&api.get("/nope", Some(&token)).await, 404, "not_found");
    assert_envelope(&api.get("/billing/plans/extra", None).await, 404, "not_found");

    let reply = api.post_json("/billing", &token, "{}").await;
    assert_envelope(&reply, 405, "method_not_allowed");
    assert_eq!(reply.headers.get("allow").map(|v| v.to_str().unwrap()), Some("GET"));
    assert_eq!(reply.body["details"]["allow"], serde_json::json!(["GET"]));
    for (method, path, allow) in [
        ("DELETE", "/billing/checkout", "POST"),
        ("GET", "/stripe/webhook", "POST"),
        ("PUT", "/billing/checkout/cs_1", "GET"),
        // A literal path shadows a parameter's: DELETE /billing/mandates/{mandate_id} is not listed.
        ("OPTIONS", "/billing/mandates/request", "POST"),
        // API Gateway sends this DELETE to DELETE /billing/mandates/{mandate_id}, which answers so.
        ("DELETE", "/billing/mandates/request", "POST"),
        ("PUT", "/billing/mandates/md_1", "DELETE"),
    ] {
        let req = http::Request::builder().method(method).uri(path).body(Vec::new()).unwrap();
        let reply = api.request(req).await;
        assert_envelope(&reply, 405, "method_not_allowed");
        assert_eq!(reply.headers.get("allow").map(|v| v.to_str().unwrap()), Some(allow), "{method} {path}");
    }
    assert_eq!(api.items().await.len(), 3, "nothing written beyond the org, its key and the record of its issue");
}

#[tokio::test]
async fn the_openapi_document_is_served_without_a_key() {
    let api = TestApi::new().await;
    let reply = api.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["openapi"], "3.1.0");
    assert_eq!(reply.body, serde_json::from_str::<serde_json::Value>(billing_shared::openapi::document_json()).unwrap());
}
