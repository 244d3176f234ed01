//! The approval page (and the local run's pages) in a real headless Chromium, driven over WebDriver: an agent asks in web
//! mode, a human opens the link, enters their key, approves (or denies), and the agent's poll
//! sees it. Needs Debian's `chromium` and `chromium-driver` (`scripts/test` installs them).
//! Writes a screenshot of the page to `$CARGO_TARGET_TMPDIR/approval-page.png` (the README's).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use billing_tests::json;
use billing_tests::stripe::StripeTestApi;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is not installed: scripts/test installs Debian's chromium and chromium-driver");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=760,980"] }),
    );
    ClientBuilder::new(HttpConnector::new()).capabilities(caps).connect(&driver.url).await.expect("a Chromium session")
}

/// The text of `css` once it contains `wanted` (the page updates after its calls return).
async fn text_with(client: &Client, css: &str, wanted: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if text.contains(wanted) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{css}` never showed `{wanted}`; last: `{last}`");
}

/// The agent asks in web mode over the served API, so the links carry its real address.
async fn ask(api: &StripeTestApi, agent: &str, host: &str, path: &str, body: &str) -> Value {
    let reply = api.post_json_with(path, agent, body, &[("host", host)]).await;
    assert_eq!(reply.body["status"], "web-approve-required", "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn a_human_approves_and_denies_on_the_page_and_the_agent_sees_it() {
    let driver = start_driver().await;
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let base = api.serve_http().await;
    let host = base.trim_start_matches("http://");
    let client = browser(&driver).await;

    let asked = ask(&api, &agent, host, "/billing/upgrade", r#"{"plan":"scale","quantity":2,"mode":"web"}"#).await;
    let url = asked["approval_url"].as_str().unwrap();
    assert!(url.starts_with(&base), "{url}");
    client.goto(url).await.unwrap();
    client.find(Locator::Css("#key")).await.unwrap().send_keys(&human).await.unwrap();
    client.find(Locator::Css("#continue")).await.unwrap().click().await.unwrap();
    assert_eq!(text_with(&client, "#binding-code", "-").await, asked["binding_code"].as_str().unwrap());
    assert_eq!(text_with(&client, "#org", "acme").await, "acme");
    assert!(text_with(&client, "#to", "Scale").await.contains("2"));
    assert!(text_with(&client, "#requested-by", "assistant").await.contains("AI agent"));
    assert!(text_with(&client, "#due-now", "$").await.len() > 1);
    text_with(&client, "#time-left", ":").await;
    let url_now = client.current_url().await.unwrap();
    assert!(!url_now.as_str().contains(&human), "the key never goes into the URL");
    let png = client.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("approval-page.png"), &png).unwrap();
    assert_eq!(api.subscription_updates(), 0, "opening the page changes nothing");

    client.find(Locator::Css("#approve")).await.unwrap().click().await.unwrap();
    text_with(&client, "#result", "Approved").await;
    let poll = api.get(&format!("/billing/approvals/{}", asked["approval_id"].as_str().unwrap()), Some(&agent)).await;
    assert_eq!((&poll.body["status"], &poll.body["result"]["status"]), (&json!("approved"), &json!("switched")), "{}", poll.body);
    api.standin.webhooks_settled().await;
    let billing = api.get("/billing", Some(&human)).await.body;
    assert_eq!((&billing["plan"], &billing["quantity"]), (&json!("scale"), &json!(2)));
    assert_eq!(api.subscription_updates(), 1);

    // The key stays in the tab: the next link opens straight onto the request.
    let asked = ask(&api, &agent, host, "/billing/downgrade", r#"{"mode":"web"}"#).await;
    client.goto(asked["approval_url"].as_str().unwrap()).await.unwrap();
    assert!(text_with(&client, "#to", "Free").await.starts_with("Free"));
    client.find(Locator::Css("#deny")).await.unwrap().click().await.unwrap();
    text_with(&client, "#result", "Denied").await;
    let poll = api.get(&format!("/billing/approvals/{}", asked["approval_id"].as_str().unwrap()), Some(&agent)).await;
    assert_eq!(poll.body["status"], "denied");
    assert_eq!(api.get("/billing", Some(&human)).await.body["cancel_at_period_end"], false);
    assert_eq!(api.subscription_updates(), 1, "a denial calls Stripe never");
    client.close().await.unwrap();
}

/// A mandate request on the page: the envelope in words and numbers, the reason, the date it
/// runs to; approving grants it (the agent's poll gets the mandate), denying grants nothing.
/// Writes `mandate-page.png` (docs/agents.md's).
#[tokio::test]
async fn a_human_approves_a_mandate_on_the_page_after_reading_its_envelope() {
    let driver = start_driver().await;
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let base = api.serve_http().await;
    let host = base.trim_start_matches("http://");
    let client = browser(&driver).await;
    let expires_at = billing_shared::domain::calendar::format_instant(billing_shared::now() + 60 * 86_400);
    let limits = json!({ "max_plan": "scale", "max_quantity": 3, "max_charge_per_month": 5000, "credits_spend_per_day": 500 });
    let body = json!({ "limits": limits, "expires_at": expires_at, "reason": "the nightly import grows past Pro's rows" }).to_string();
    let body = body.as_str();
    let year = &expires_at[..4];

    let asked = ask(&api, &agent, host, "/billing/mandates/request", body).await;
    client.goto(asked["approval_url"].as_str().unwrap()).await.unwrap();
    client.find(Locator::Css("#key")).await.unwrap().send_keys(&human).await.unwrap();
    client.find(Locator::Css("#continue")).await.unwrap().click().await.unwrap();
    assert_eq!(text_with(&client, "#binding-code", "-").await, asked["binding_code"].as_str().unwrap());
    assert_eq!(text_with(&client, "#heading", "standing").await, "Approve standing consent");
    let envelope = text_with(&client, "#envelope", "Scale").await;
    for words in ["up to Scale, up to 3 units", "up to $50.00 a month", "up to 500 a day"] {
        assert!(envelope.contains(words), "{words} in {envelope}");
    }
    assert!(text_with(&client, "#reason", "nightly").await.contains("Pro's rows"));
    assert!(text_with(&client, "#until", year).await.contains(year));
    assert!(!client.find(Locator::Css("#change")).await.unwrap().is_displayed().await.unwrap(), "no plan change is shown");
    let png = client.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("mandate-page.png"), &png).unwrap();
    assert!(
        api.get("/billing/mandates", Some(&human)).await.body["data"].as_array().unwrap().is_empty(),
        "opening the page grants nothing"
    );

    client.find(Locator::Css("#approve")).await.unwrap().click().await.unwrap();
    text_with(&client, "#result", "Approved").await;
    let poll = api.get(&format!("/billing/approvals/{}", asked["approval_id"].as_str().unwrap()), Some(&agent)).await;
    assert_eq!((&poll.body["status"], &poll.body["result"]["status"]), (&json!("approved"), &json!("active")), "{}", poll.body);
    let mandates = api.get("/billing/mandates", Some(&agent)).await.body;
    assert_eq!(mandates["data"][0]["limits"]["max_plan"], "scale");

    let asked = ask(&api, &agent, host, "/billing/mandates/request", body).await;
    client.goto(asked["approval_url"].as_str().unwrap()).await.unwrap();
    text_with(&client, "#envelope", "Scale").await;
    client.find(Locator::Css("#deny")).await.unwrap().click().await.unwrap();
    text_with(&client, "#result", "Denied").await;
    let after = api.get("/billing/mandates", Some(&agent)).await.body;
    assert_eq!(after["data"][0]["mandate_id"], mandates["data"][0]["mandate_id"], "a denial grants nothing");
    client.close().await.unwrap();
}

/// The local run's landing pages (its default success and cancel URLs): Cancel on the stand-in's
/// hosted Checkout lands on a page saying nothing changed, Pay on one naming the paid session and
/// the call that shows it with a key, never on a 401; a promotion code typed on the page first is
/// the org's discount. Writes `checkout-success.png` beside the approval page's screenshot.
#[tokio::test]
async fn cancel_and_pay_on_the_hosted_checkout_land_on_the_local_pages() {
    let driver = start_driver().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let [success, cancel, portal_return] = billing_infra::local_pages::default_urls(&base);
    let api = StripeTestApi::with_config(&[
        ("ALLOWED_REDIRECT_ORIGINS", base.as_str()),
        ("DEFAULT_SUCCESS_URL", success.as_str()),
        ("DEFAULT_CANCEL_URL", cancel.as_str()),
        ("DEFAULT_RETURN_URL", portal_return.as_str()),
    ])
    .await;
    tokio::spawn(billing_infra::gateway::serve(api.gateway.clone(), listener, std::future::pending()));
    let human = api.org_with_key("acme").await;
    let client = browser(&driver).await;

    let checkout = api.post_json("/billing/checkout", &human, r#"{"plan":"pro","interval":"month"}"#).await;
    let (url, session) = (checkout.body["url"].as_str().unwrap(), checkout.body["session_id"].as_str().unwrap());
    client.goto(url).await.unwrap();
    client.find(Locator::Css(&format!("a[href='{cancel}']"))).await.unwrap().click().await.unwrap();
    text_with(&client, "h1", "Checkout cancelled").await;
    assert!(text_with(&client, "pre", "curl").await.contains(&format!("curl -s {base}/billing -H")));

    // The customer types a code on the page, as Stripe's Checkout lets them: refused, then taken.
    client.goto(url).await.unwrap();
    client.find(Locator::Css("#promotion-code")).await.unwrap().send_keys("EXPIRED10").await.unwrap();
    client.find(Locator::Css("#apply-code")).await.unwrap().click().await.unwrap();
    text_with(&client, "#code-refused", "has expired").await;
    client.find(Locator::Css("#promotion-code")).await.unwrap().send_keys("launch20").await.unwrap();
    client.find(Locator::Css("#apply-code")).await.unwrap().click().await.unwrap();
    text_with(&client, "#applied-code", "LAUNCH20").await;
    client.find(Locator::Css("#pay")).await.unwrap().click().await.unwrap();
    text_with(&client, "h1", "Payment complete").await;
    let shown = text_with(&client, "pre", "curl").await;
    assert!(shown.contains(&format!("curl -s {base}/billing/checkout/{session} -H 'Authorization: Bearer <key>'")), "{shown}");
    let png = client.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("checkout-success.png"), &png).unwrap();
    client.close().await.unwrap();

    // What the page says to run shows the paid session (no webhook is delivered in this test).
    let synced = api.get(&format!("/billing/checkout/{session}"), Some(&human)).await;
    assert_eq!((&synced.body["paid"], &synced.body["billing"]["plan"]), (&json!(true), &json!("pro")), "{}", synced.body);
    assert_eq!(synced.body["billing"]["discount"]["promotion_code"], "LAUNCH20", "{}", synced.body);
}

/// The local run's events page: after a subscription, a HUMAN's upgrade and an agent's web
/// approval, the page lists those events newest first with who did them, and the metrics
/// counted since start below them. Writes `local-events.png` (docs/events.md's).
#[tokio::test]
async fn the_local_events_page_lists_an_orgs_events_newest_first() {
    billing_infra::metric_counts::install();
    let driver = start_driver().await;
    let (api, human, agent) = StripeTestApi::subscribed(r#"{"plan":"pro","interval":"month"}"#).await;
    let base = api.serve_http().await;
    assert_eq!(api.post_json("/billing/upgrade", &human, r#"{"plan":"scale"}"#).await.body["status"], "switched");
    let asked = api.post_json("/billing/downgrade", &agent, r#"{"mode":"web"}"#).await;
    assert_eq!(asked.body["status"], "web-approve-required", "{}", asked.body);
    api.standin.webhooks_settled().await;

    let client = browser(&driver).await;
    client.goto(&format!("{base}/local/events?org=acme")).await.unwrap();
    text_with(&client, "h1", "Billing events").await;
    let rows = text_with(&client, "table", "billing.approval_requested").await;
    let order: Vec<usize> = ["billing.approval_requested", "billing.plan_changed", "billing.subscription_status_changed"]
        .iter()
        .map(|t| rows.find(t).unwrap_or_else(|| panic!("{t} is not listed: {rows}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "newest first: {rows}");
    assert!(rows.contains("\"principal_id\":\"assistant\"") && rows.contains("\"principal_id\":\"owner\""), "{rows}");
    let metrics = client.find(Locator::Css("#metrics")).await.expect("the metrics table");
    assert!(metrics.is_displayed().await.unwrap(), "the metrics table is visible");
    let counted = metrics.text().await.unwrap();
    for shown in ["checkout_started", "kind=subscription", "plan_changed", "kind=upgrade plan=scale", "approval_asked", "requests"] {
        assert!(counted.contains(shown), "{shown} is not counted: {counted}");
    }
    // The whole page in the screenshot: the window as tall as the page.
    let height = client.execute("return document.documentElement.scrollHeight", vec![]).await.unwrap();
    client.set_window_size(760, height.as_u64().expect("a height") as u32 + 100).await.unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("local-events.png"), &png).unwrap();
    client.close().await.unwrap();
}
