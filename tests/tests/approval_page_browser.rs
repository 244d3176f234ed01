//! The approval page in a real headless Chromium, driven over WebDriver: an agent asks in web
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
