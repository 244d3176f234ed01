//! The local run's own landing pages for Checkout and the Customer Portal (`/local/...`):
//! its default success, cancel and return URLs. The API's routes need a key, which a browser
//! coming back from the stand-in's hosted page does not send, so these say what happened and
//! how to see it with the key. Deployments send the human to their own URLs instead.

use billing_shared::domain::activity::Activity;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};

use crate::metric_counts::{MetricRow, Reading};

pub const SUCCESS_PATH: &str = "/local/checkout/success";
pub const CANCEL_PATH: &str = "/local/checkout/cancel";
pub const RETURN_PATH: &str = "/local/portal/return";
pub const EVENTS_PATH: &str = "/local/events";

/// The default success, cancel and return URLs of a local run on `base` (`http://127.0.0.1:3000`).
pub fn default_urls(base: &str) -> [String; 3] {
    [format!("{base}{SUCCESS_PATH}?session_id={{CHECKOUT_SESSION_ID}}"), format!("{base}{CANCEL_PATH}"), format!("{base}{RETURN_PATH}")]
}

/// The page for a GET of `path`, if it is one of them; `base` is the origin the browser used.
pub fn page(method: &str, path: &str, query: &str, base: &str) -> Option<Response<Body>> {
    if method != "GET" {
        return None;
    }
    let base = escape(base);
    let key = "-H 'Authorization: Bearer &lt;key&gt;'";
    let summary = format!("curl -s {base}/billing {key}");
    let (title, body) = match path {
        SUCCESS_PATH => match session_id(query) {
            Some(id) => (
                "Payment complete",
                format!(
                    "<p>Checkout Session <code>{id}</code> is paid. The Stripe stand-in delivers its signed events to \
                     <code>/stripe/webhook</code>, which applies them to the org.</p>\
                     <p>See it with a key the local run printed (HUMAN or AGENT): the first line applies the session at once \
                     if the webhook has not yet, the second shows the org's plan, caps, card and credits.</p>\
                     <pre>curl -s {base}/billing/checkout/{id} {key}\n{summary}</pre>"
                ),
            ),
            None => ("Payment complete", format!("<p>No Checkout Session id came back with this page.</p><pre>{summary}</pre>")),
        },
        CANCEL_PATH => (
            "Checkout cancelled",
            format!(
                "<p>Nothing was charged and nothing changed. The Checkout Session stays open until it expires, so the \
                 same request to <code>POST /billing/checkout</code> gives the same link again.</p>\
                 <p>The org as it is, with a key the local run printed:</p><pre>{summary}</pre>"
            ),
        ),
        RETURN_PATH => (
            "Back from the Customer Portal",
            format!(
                "<p>Changes made in the portal (cancel at period end, resume) reach the API as signed webhook events.</p>\
                 <p>See them with a key the local run printed:</p><pre>{summary}</pre>"
            ),
        ),
        _ => return None,
    };
    Some(html_page(title, &body))
}

/// A page of the local run: `title` and `body` (HTML, escaped by the caller).
fn html_page(title: &str, body: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>\
         body{{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:3rem auto;padding:0 1rem;color:#1f2937}}\
         pre{{background:#f3f4f6;padding:1rem;white-space:pre-wrap;overflow-wrap:anywhere}}\
         table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #e5e7eb}}\
         code{{background:#f3f4f6;padding:0 .25rem;overflow-wrap:anywhere}}small{{color:#6b7280}}</style></head><body>\
         <h1>{title}</h1>{body}<p><small>A page of the local run (scripts/run-local) only.</small></p></body></html>"
    );
    let mut response = Response::new(Body::Text(html));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `/local/events?org=<id>`: the org's newest activity records, the events the publisher puts
/// on the bus (locally: moto's, forwarded to an SQS queue), and the metrics of every org since
/// the local run started.
pub fn events_page(org_id: &str, activities: &[Activity], metrics: &[MetricRow]) -> Response<Body> {
    let rows: String = activities
        .iter()
        .map(|a| {
            let actor = serde_json::to_string(&a.actor).unwrap_or_default();
            let consent = a.consent.as_ref().and_then(|c| serde_json::to_string(c).ok()).unwrap_or_default();
            let data = serde_json::to_value(&a.event).map(|v| v["data"].to_string()).unwrap_or_default();
            format!(
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code> <code>{}</code></td><td><code>{}</code></td></tr>",
                a.occurred_at,
                a.event.type_name(),
                escape(&actor),
                escape(&consent),
                escape(&data)
            )
        })
        .collect();
    let body = if activities.is_empty() {
        format!(
            "<p>No events for org <code>{}</code> yet. Make a change (a checkout, an upgrade, a reservation past a cap) and reload.</p>",
            escape(org_id)
        )
    } else {
        format!(
            "<p>The newest {} events of org <code>{}</code>, newest first (occurred_at in epoch seconds).</p>\
             <table><tr><th>occurred_at</th><th>type</th><th>actor, consent</th><th>data</th></tr>{rows}</table>",
            activities.len(),
            escape(org_id)
        )
    };
    html_page("Billing events", &format!("{body}{}", metrics_table(metrics)))
}

/// "Metrics since start": what CloudWatch would show in AWS, for all orgs.
fn metrics_table(metrics: &[MetricRow]) -> String {
    let intro = "<h2>Metrics since start</h2><p>What the local run counted since it started, for every org \
                 (in AWS each function writes them to CloudWatch).</p>";
    if metrics.is_empty() {
        return format!("{intro}<p>No metrics recorded yet.</p>");
    }
    let rows: String = metrics
        .iter()
        .map(|m| {
            let labels: Vec<String> = m.labels.iter().map(|(k, v)| format!("<code>{}={}</code>", escape(k), escape(v))).collect();
            let unit = m.unit.map(|u| format!(" {}", escape(u))).unwrap_or_default();
            let value = match m.reading {
                Reading::Count(count) => count.to_string(),
                Reading::Latest(latest) => format!("{latest}{unit}"),
                Reading::Values { count, sum } => {
                    let values = if count == 1 { "value" } else { "values" };
                    format!("{count} {values}, mean {:.1}{unit}", sum / count.max(1) as f64)
                }
            };
            format!(
                "<tr><td><code>{}</code><br><small>{}</small></td><td>{}</td><td>{value}</td></tr>",
                escape(&m.name),
                escape(&m.description),
                labels.join(" ")
            )
        })
        .collect();
    format!("{intro}<table id=\"metrics\"><tr><th>metric</th><th>labels</th><th>count or value</th></tr>{rows}</table>")
}

/// `session_id` of the query, when it is a Checkout Session id (anything else is not shown).
fn session_id(query: &str) -> Option<String> {
    let (_, id) = url::form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "session_id")?;
    let rest = id.strip_prefix("cs_").filter(|rest| !rest.is_empty() && id.len() <= 255)?;
    rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_').then(|| id.into_owned())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(response: Response<Body>) -> String {
        match response.into_body() {
            Body::Text(text) => text,
            _ => String::new(),
        }
    }

    #[test]
    fn success_shows_the_session_and_the_curl_to_see_it() {
        let html = text(page("GET", SUCCESS_PATH, "session_id=cs_test_a1B2", "http://127.0.0.1:3000").unwrap());
        assert!(html.contains("Payment complete"), "{html}");
        assert!(html.contains("curl -s http://127.0.0.1:3000/billing/checkout/cs_test_a1B2 -H"), "{html}");
    }

    #[test]
    fn only_a_session_id_is_echoed() {
        for query in ["session_id=%3Cscript%3E", "session_id=cs_<b>", "session_id=in_123", "", "session_id=cs_"] {
            let html = text(page("GET", SUCCESS_PATH, query, "http://127.0.0.1:3000").unwrap());
            assert!(html.contains("No Checkout Session id") && !html.contains("<script") && !html.contains("<b>"), "{query}: {html}");
        }
        let html = text(page("GET", CANCEL_PATH, "", "http://x\"><script>").unwrap());
        assert!(html.contains("Checkout cancelled") && !html.contains("<script>"), "{html}");
    }

    #[test]
    fn metrics_are_shown_escaped_with_their_unit() {
        let row = |name: &str, labels: &[(&str, &str)], unit, reading| MetricRow {
            name: name.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            description: "<b>said</b>".into(),
            unit,
            reading,
        };
        let metrics = [
            row("events_published", &[("type", "<script>")], None, Reading::Count(3)),
            row("stripe_call_latency", &[("operation", "create_customer")], Some("ms"), Reading::Values { count: 4, sum: 50.0 }),
        ];
        let html = text(events_page("acme", &[], &metrics));
        assert!(html.contains("<code>type=&lt;script&gt;</code></td><td>3</td>"), "{html}");
        assert!(html.contains("&lt;b&gt;said&lt;/b&gt;") && !html.contains("<script>") && !html.contains("<b>"), "{html}");
        assert!(html.contains("<td>4 values, mean 12.5 ms</td>"), "{html}");
        assert!(text(events_page("acme", &[], &[])).contains("No metrics recorded yet."));
    }

    #[test]
    fn other_paths_and_methods_are_not_pages() {
        assert!(page("POST", SUCCESS_PATH, "", "http://127.0.0.1:3000").is_none());
        assert!(page("GET", "/local/other", "", "http://127.0.0.1:3000").is_none());
    }
}
