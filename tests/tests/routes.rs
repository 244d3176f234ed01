//! The local gateway serves exactly template.yaml's routes, through the same handlers.

use std::collections::BTreeSet;

use billing_infra::gateway::ROUTE_FUNCTIONS;
use billing_infra::template::Template;
use billing_tests::stripe::StripeTestApi;
use billing_tests::{TestApi, assert_envelope};

#[tokio::test]
async fn local_routes_and_template_routes_are_the_same_set() {
    let api = TestApi::new().await;
    let template_routes: BTreeSet<_> = Template::built_in().routes().unwrap().into_iter().map(|r| (r.method, r.path, r.binary)).collect();
    let local_routes: BTreeSet<_> = api.gateway.routes().iter().map(|r| (r.method.clone(), r.path.clone(), r.binary.clone())).collect();
    assert_eq!(local_routes, template_routes);

    let template_functions: BTreeSet<_> = template_routes.iter().map(|(_, _, b)| b.as_str()).collect();
    let local_functions: BTreeSet<_> = ROUTE_FUNCTIONS.iter().copied().collect();
    assert_eq!(local_functions, template_functions, "every route function runs locally, and no other");

    // Every binary of a route is a [[bin]] of functions/Cargo.toml, so sam build finds it.
    let manifest = include_str!("../../functions/Cargo.toml");
    for binary in template_functions.iter().chain(["authorizer"].iter()) {
        assert!(manifest.contains(&format!("name = \"{binary}\"")), "functions/Cargo.toml has no bin `{binary}`");
    }
}

#[tokio::test]
async fn every_template_route_reaches_its_handler() {
    let api = StripeTestApi::new().await;
    let token = api.org_with_key("acme").await;
    for route in api.gateway.routes().iter().filter(|r| r.path != "$default") {
        let path = route.path.replace("{resource}", "agents").replace("{id}", "x").replace("{session_id}", "cs_x");
        let req = http::Request::builder()
            .method(route.method.as_str())
            .uri(&path)
            .header("authorization", format!("Bearer {token}"))
            .body(Vec::new())
            .unwrap();
        let reply = api.request(req).await;
        let unrouted = reply.body["message"].as_str().is_some_and(|m| m.starts_with("No route"));
        assert!(!unrouted && reply.status < 500, "{} {} did not reach its handler: {}", route.method, path, reply.body);
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_404_envelope() {
    let api = TestApi::new().await;
    let token = api.org_with_key("acme").await;
    assert_envelope(&api.get("/nope", Some(&token)).await, 404, "not_found");
    assert_envelope(&api.get("/billing/plans/extra", None).await, 404, "not_found");
    let reply = api.post_json("/billing", &token, "{}").await;
    assert_envelope(&reply, 404, "not_found");
    assert!(api.items().await.len() == 2, "nothing written beyond the org and its key");
}
