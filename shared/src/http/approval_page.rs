//! The approval page (`GET /approve/{id}`): one self-contained HTML document, no external
//! assets, under a Content-Security-Policy that allows only its own inline style and script (by
//! hash) and calls to its own origin. The URL authorizes nothing: the page asks for the human's
//! key, keeps it in `sessionStorage`, and calls the approvals API with it.

use base64::Engine;
use lambda_http::Body;
use lambda_http::http::{HeaderValue, Response, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::domain::approval::is_approval_id;
use crate::error::ApiError;

const PAGE: &str = include_str!("approval_page.html");

/// The CSP source of the inline element `<tag>...</tag>` of the page.
fn inline_hash(tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let body = PAGE.split_once(&open).and_then(|(_, rest)| rest.split_once(&close)).map_or("", |(body, _)| body);
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes())))
}

pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'",
        inline_hash("script"),
        inline_hash("style")
    )
}

/// The page for approval `id`, with its security headers; 404 for what cannot be an approval id.
pub fn approval_page(id: Option<&str>) -> Result<Response<Body>, ApiError> {
    if !id.is_some_and(is_approval_id) {
        return Err(ApiError::not_found("No approval has this id: approval links end in `ap_` and 32 hex digits."));
    }
    let mut response = Response::new(Body::Text(PAGE.to_string()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_the_policy_pins_its_inline_code() {
        for outside in ["http://", "https://", "src=", "href=", "@import", "url("] {
            assert!(!PAGE.contains(outside), "the page must be self-contained: found `{outside}`");
        }
        assert_eq!(PAGE.matches("<script>").count(), 1);
        assert_eq!(PAGE.matches("<style>").count(), 1);
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; script-src 'sha256-"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_ne!(inline_hash("script"), inline_hash("style"));
    }

    #[test]
    fn the_key_is_kept_in_the_tab_and_written_only_as_text() {
        assert!(PAGE.contains("sessionStorage"));
        assert!(!PAGE.contains("localStorage"));
        assert!(!PAGE.contains("innerHTML"), "server data is written with textContent only");
    }
}
