//! The hosted pages Stripe would show a customer: Checkout, the Customer Portal and hosted
//! invoices (with a PDF). Plain server-rendered HTML with forms, so a browser, curl or a test
//! can drive them; no JavaScript.

use std::fmt::Write as _;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use serde_json::json;

use crate::account::{Account, Origin};
use crate::billing::SubscriptionChange;
use crate::catalog::money;
use crate::response::{insert_header, json_response};
use crate::state::Shared;
use crate::{clock, form, pdf};

/// A page request; `form` is its body (a form's fields), if it was read.
pub(crate) fn handle(shared: &Shared, method: &str, path: &str, form: Option<&[u8]>) -> Response<Full<Bytes>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["checkout", id]) => shared.with_account(|account| checkout_page(account, id, None)),
        ("POST", ["checkout", id, "promotion-code"]) => {
            let typed = form.and_then(|body| std::str::from_utf8(body).ok()).and_then(|body| form::parse(body).ok());
            let typed = typed.as_ref().and_then(|fields| fields["code"].as_str()).unwrap_or_default().to_string();
            shared.with_account(|account| match account.apply_typed_code(id, &typed) {
                Ok(()) => redirect(&format!("/checkout/{id}")),
                Err(refusal) => checkout_page(account, id, Some(&refusal)),
            })
        }
        ("POST", ["checkout", id, "pay"]) => match shared.with_account(|account| account.complete_checkout(id)) {
            Ok(next) => redirect(&next),
            Err(message) => page(StatusCode::NOT_FOUND, "Checkout", &format!("<p>{}</p>", escape(&message))),
        },
        ("GET", ["portal", id]) => shared.with_account(|account| portal_page(account, id)),
        ("POST", ["portal", id, "subscriptions", subscription, action @ ("cancel" | "resume")]) => {
            shared.with_account(|account| portal_action(account, id, subscription, *action == "cancel"))
        }
        ("GET", ["invoices", id]) => shared.with_account(|account| invoice_page(account, id)),
        ("GET", ["invoices", id, "pdf"]) => shared.with_account(|account| invoice_pdf(account, id)),
        ("GET", ["logs", id]) => request_log(shared, id),
        _ => not_found(),
    }
}

/// The session's items and total, a promotion code box where the session allows one, and Pay;
/// with `refusal`, why the typed code was not applied (a 400, as a form error).
fn checkout_page(account: &Account, id: &str, refusal: Option<&str>) -> Response<Full<Bytes>> {
    let Some(session) = account.sessions.get(id) else {
        return not_found();
    };
    let currency = session["currency"].as_str().unwrap_or("usd");
    let mut body = String::from("<table><tr><th>Item</th><th>Qty</th><th>Amount</th></tr>");
    for item in account.checkout_items(id) {
        let interval = item["price"]["recurring"]["interval"].as_str().map(|i| format!(" / {i}")).unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            escape(item["description"].as_str().unwrap_or_default()),
            item["quantity"],
            money(item["amount_total"].as_i64().unwrap_or_default(), currency),
            interval,
        );
    }
    let _ = write!(
        body,
        "<tr><th colspan=\"2\">Total</th><th>{}</th></tr></table>",
        money(session["amount_total"].as_i64().unwrap_or_default(), currency)
    );
    if session["status"] == "open" {
        let applied = session["discounts"][0]["promotion_code"].as_str().and_then(|code| account.promotion_codes.get(code));
        if let Some(code) = applied {
            let _ = write!(
                body,
                "<p id=\"applied-code\">Promotion code <strong>{}</strong> applied.</p>",
                escape(code["code"].as_str().unwrap_or_default())
            );
        }
        if session["allow_promotion_codes"] == true {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/checkout/{}/promotion-code\"><label>Promotion code <input id=\"promotion-code\" \
                 name=\"code\" autocomplete=\"off\"></label> <button id=\"apply-code\" type=\"submit\">Apply</button></form>",
                escape(id)
            );
        }
        if let Some(refusal) = refusal {
            let _ = write!(body, "<p id=\"code-refused\" role=\"alert\">{}</p>", escape(refusal));
        }
        let _ = write!(
            body,
            "<p>Test card: Visa •••• 4242, expires 12/2034.</p>\
             <form method=\"post\" action=\"/checkout/{}/pay\"><button id=\"pay\" type=\"submit\">Pay</button></form>",
            escape(id)
        );
        if let Some(cancel) = session["cancel_url"].as_str() {
            let _ = write!(body, "<p><a href=\"{}\">Cancel</a></p>", escape(cancel));
        }
    } else {
        let _ = write!(body, "<p>This checkout session is {}.</p>", escape(session["status"].as_str().unwrap_or_default()));
    }
    let status = if refusal.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    page(status, "Checkout", &body)
}

fn portal_page(account: &Account, id: &str) -> Response<Full<Bytes>> {
    let Some(session) = account.portal_sessions.get(id) else {
        return not_found();
    };
    let customer_id = session["customer"].as_str().unwrap_or_default();
    let customer = account.customers.get(customer_id);
    let who = customer.and_then(|c| c["email"].as_str().or(c["name"].as_str())).unwrap_or(customer_id);
    let mut body = format!("<p>Signed in as {}</p>", escape(who));
    let live = account.subscriptions.newest_first().filter(|s| s["customer"] == customer_id && s["status"] != "canceled");
    for subscription in live {
        let sub_id = subscription["id"].as_str().unwrap_or_default();
        let item = &subscription["items"]["data"][0];
        let product = item["price"]["product"].as_str().and_then(|p| account.catalog.product(p)).map_or("Subscription", |p| &p.name);
        let end = clock::date(item["current_period_end"].as_i64().unwrap_or_default());
        let scheduled = subscription["cancel_at_period_end"] == true;
        let _ = write!(
            body,
            "<section><h2>{} × {}</h2><p>Status: {}. {} {}.</p>",
            item["quantity"],
            escape(product),
            escape(subscription["status"].as_str().unwrap_or_default()),
            if scheduled { "Cancels on" } else { "Renews on" },
            end,
        );
        let (action, label) = if scheduled { ("resume", "Resume") } else { ("cancel", "Cancel at period end") };
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/portal/{}/subscriptions/{}/{action}\"><button type=\"submit\">{label}</button></form></section>",
            escape(id),
            escape(sub_id),
        );
    }
    if let Some(back) = session["return_url"].as_str() {
        let _ = write!(body, "<p><a href=\"{}\">Return</a></p>", escape(back));
    }
    page(StatusCode::OK, "Customer portal", &body)
}

/// Cancel at period end or resume, as the portal's buttons do; back to the portal after.
fn portal_action(account: &mut Account, portal: &str, subscription: &str, cancel: bool) -> Response<Full<Bytes>> {
    let Some(customer) = account.portal_sessions.get(portal).map(|p| p["customer"].clone()) else {
        return not_found();
    };
    // A portal session only reaches its own customer's subscriptions.
    if account.subscriptions.get(subscription).is_none_or(|s| s["customer"] != customer) {
        return not_found();
    }
    let change = SubscriptionChange { cancel_at_period_end: Some(cancel), ..Default::default() };
    match account.update_subscription(subscription, change, &Origin::default()) {
        Ok(_) => redirect(&format!("/portal/{portal}")),
        Err(error) => page(
            StatusCode::BAD_REQUEST,
            "Customer portal",
            &format!("<p>{}</p>", escape(error.body()["error"]["message"].as_str().unwrap_or_default())),
        ),
    }
}

fn invoice_page(account: &Account, id: &str) -> Response<Full<Bytes>> {
    let Some(invoice) = account.invoices.get(id) else {
        return not_found();
    };
    let currency = invoice["currency"].as_str().unwrap_or("usd");
    let mut body = format!(
        "<p>Invoice {} — {}</p><table>",
        escape(invoice["number"].as_str().unwrap_or_default()),
        escape(invoice["status"].as_str().unwrap_or_default())
    );
    for line in invoice["lines"]["data"].as_array().into_iter().flatten() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(line["description"].as_str().unwrap_or_default()),
            money(line["amount"].as_i64().unwrap_or_default(), currency)
        );
    }
    let _ = write!(
        body,
        "<tr><th>Total</th><th>{}</th></tr></table><p><a href=\"/invoices/{}/pdf\">Download PDF</a></p>",
        money(invoice["total"].as_i64().unwrap_or_default(), currency),
        escape(id)
    );
    page(StatusCode::OK, "Invoice", &body)
}

fn invoice_pdf(account: &Account, id: &str) -> Response<Full<Bytes>> {
    let Some(invoice) = account.invoices.get(id) else {
        return not_found();
    };
    let currency = invoice["currency"].as_str().unwrap_or("usd");
    let mut lines = vec![
        format!("Invoice {}", invoice["number"].as_str().unwrap_or_default()),
        format!("Status: {}", invoice["status"].as_str().unwrap_or_default()),
        format!("Date: {}", clock::date(invoice["created"].as_i64().unwrap_or_default())),
        String::new(),
    ];
    for line in invoice["lines"]["data"].as_array().into_iter().flatten() {
        let amount = money(line["amount"].as_i64().unwrap_or_default(), currency);
        lines.push(format!("{}  {amount}", line["description"].as_str().unwrap_or_default()));
    }
    lines.push(format!("Total  {}", money(invoice["total"].as_i64().unwrap_or_default(), currency)));
    let mut response = Response::new(Full::new(Bytes::from(pdf::document(&lines))));
    insert_header(response.headers_mut(), "content-type", "application/pdf");
    response
}

/// The request an error's `request_log_url` points at, as recorded.
fn request_log(shared: &Shared, id: &str) -> Response<Full<Bytes>> {
    let Some(request) = shared.requests().into_iter().find(|r| r.request_id == id) else {
        return not_found();
    };
    let log = json!({
        "id": request.request_id,
        "method": request.method,
        "path": request.path,
        "params": request.params,
        "idempotency_key": request.idempotency_key,
        "replayed": request.replayed,
        "status": request.status,
    });
    json_response(200, serde_json::to_string_pretty(&log).unwrap_or_default())
}

fn page(status: StatusCode, title: &str, body: &str) -> Response<Full<Bytes>> {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title} · Stripe stand-in</title></head>\
         <body><h1>{title}</h1>{body}<footer><small>Stripe stand-in (test mode)</small></footer></body></html>"
    );
    let mut response = Response::new(Full::new(Bytes::from(html)));
    *response.status_mut() = status;
    insert_header(response.headers_mut(), "content-type", "text/html; charset=utf-8");
    response
}

fn not_found() -> Response<Full<Bytes>> {
    page(StatusCode::NOT_FOUND, "Not found", "<p>Nothing here.</p>")
}

/// 303 so the browser follows with a GET. A target that cannot be a header value (it came
/// from API input) falls back to a page with a link.
fn redirect(location: &str) -> Response<Full<Bytes>> {
    let mut response = page(StatusCode::SEE_OTHER, "Redirecting", &format!("<p><a href=\"{0}\">{0}</a></p>", escape(location)));
    insert_header(response.headers_mut(), "location", location);
    if !response.headers().contains_key("location") {
        *response.status_mut() = StatusCode::OK;
    }
    response
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a href=\"x\">Tom & Jerry's</a>"), "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    }

    #[test]
    fn redirect_falls_back_to_a_link_for_unusable_targets() {
        assert_eq!(redirect("https://example.com/ok").status(), StatusCode::SEE_OTHER);
        assert_eq!(redirect("https://example.com/\u{7f}").status(), StatusCode::OK);
    }
}
