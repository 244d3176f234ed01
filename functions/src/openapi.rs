//! `GET /openapi.json`: the API's OpenAPI 3.1 document, without a key (see `billing_shared::openapi`).

use billing_shared::App;
use billing_shared::http::{self, json_text_response};
use lambda_http::{Body, Request, Response};

/// The committed document, which `billing_shared`'s tests keep byte for byte equal to the
/// generated one: serving it builds nothing at cold start.
const DOCUMENT: &str = include_str!("../../openapi.json");

pub async fn handle(_app: &App, req: Request) -> Response<Body> {
    answer(req).await
}

/// What `handle` answers; it needs no config or clients, so the bin serves it without an `App`.
pub async fn answer(req: Request) -> Response<Body> {
    http::serve(req, |_| async { Ok(json_text_response(200, DOCUMENT.to_string())) }).await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use billing_shared::openapi::document_json;
    use serde_json::Value;

    use super::*;
    use crate::{DEFAULT_ROUTE, ROUTES};

    fn document() -> Value {
        serde_json::from_str(document_json()).expect("the document is JSON")
    }

    /// (method, path, needs a key) of every operation of the document.
    fn documented() -> BTreeSet<(String, String, bool)> {
        let doc = document();
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                let keyless = op.get("security").is_some_and(|s| s.as_array().is_some_and(Vec::is_empty));
                ops.insert((method.to_uppercase(), path.clone(), !keyless));
            }
        }
        ops
    }

    #[test]
    fn the_document_has_exactly_the_template_routes_and_their_auth() {
        let template: BTreeSet<(String, String, bool)> =
            ROUTES.iter().filter(|r| r.path != DEFAULT_ROUTE).map(|r| (r.method.to_string(), r.path.to_string(), r.authorized)).collect();
        let documented = documented();
        let missing: Vec<_> = template.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&template).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "template.yaml routes (method, path, needs a key) missing from the OpenAPI document: {missing:?}; \
             in the document but not in template.yaml: {extra:?} (the operations are in billing_shared::openapi)"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_a_global_bearer_key() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["components"]["securitySchemes"][billing_shared::openapi::BEARER]["scheme"], "bearer");
        assert_eq!(doc["security"][0][billing_shared::openapi::BEARER], serde_json::json!([]));
    }

    #[tokio::test]
    async fn it_is_served_as_json_without_a_key() {
        let req = lambda_http::http::Request::builder().uri("/openapi.json").body(Body::Empty).unwrap();
        let response = answer(req).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let Body::Text(text) = response.body() else { panic!("a text body") };
        assert_eq!(text, document_json());
    }
}
