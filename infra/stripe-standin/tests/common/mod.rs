//! Shared test setup: a stand-in with a small catalog, the real async-stripe client pointed
//! at it, a raw HTTP helper for what the client hides (headers, hosted pages), a local
//! webhook receiver, and shape checks against Stripe's fixtures.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use stripe_standin::{PriceSpec, PromotionCodeSpec, Standin, StandinConfig, demo_promotion_codes};

pub const SECRET: &str = "whsec_test_secret";
pub const PRO_MONTHLY: &str = "price_pro_monthly";
pub const PRO_YEARLY: &str = "price_pro_yearly";
pub const CREDITS: &str = "price_credits";

fn price(id: &str, product: &str, unit_amount: u64, interval: Option<&str>) -> PriceSpec {
    PriceSpec { id: id.into(), product_name: product.into(), unit_amount, currency: "usd".into(), interval: interval.map(Into::into) }
}

pub async fn start(webhook_url: Option<String>) -> (Standin, stripe::Client) {
    start_with_codes(webhook_url, demo_promotion_codes()).await.unwrap()
}

/// The same catalog with other promotion codes; an error when the stand-in refuses them.
pub async fn start_with_codes(
    webhook_url: Option<String>,
    promotion_codes: Vec<PromotionCodeSpec>,
) -> std::io::Result<(Standin, stripe::Client)> {
    let config = StandinConfig {
        prices: vec![
            price(PRO_MONTHLY, "Pro", 2000, Some("month")),
            price(PRO_YEARLY, "Pro", 20000, Some("year")),
            price(CREDITS, "Credit bundle", 1000, None),
        ],
        promotion_codes,
        webhook_url,
        webhook_secret: SECRET.into(),
    };
    let standin = Standin::start(config, "127.0.0.1:0".parse().unwrap()).await?;
    let client = stripe::ClientBuilder::new("sk_test_standin").url(standin.base_url()).build().unwrap();
    Ok((standin, client))
}

pub fn metadata(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl RawResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One HTTP request to the stand-in; `path` is relative to its base URL.
pub async fn raw(standin: &Standin, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> RawResponse {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder().method(method).uri(format!("{}{}", standin.base_url(), path.trim_start_matches('/')));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if !body.is_empty() {
        request = request.header("content-type", "application/x-www-form-urlencoded");
    }
    let response = client.request(request.body(Full::new(Bytes::from(body.to_string()))).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned();
    RawResponse { status, headers, body }
}

/// An authenticated API GET, as JSON.
pub async fn get_json(standin: &Standin, path: &str) -> Value {
    let response = raw(standin, "GET", path, &[("authorization", "Bearer sk_test_standin")], "").await;
    assert_eq!(response.status, 200, "{path}: {}", response.body);
    response.json()
}

/// Deserializes with serde and reports the exact path of a mismatch; the async-stripe client
/// (miniserde) only says that deserialization failed.
pub fn assert_shape<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_path_to_error::deserialize(value.clone())
        .unwrap_or_else(|e| panic!("{} does not match async-stripe's type at {}: {}", value["object"], e.path(), e.inner()))
}

fn fixture(name: &str) -> &'static str {
    match name {
        "billing_portal.session" => include_str!("../../fixtures/billing_portal.session.json"),
        "checkout.session" => include_str!("../../fixtures/checkout.session.json"),
        "customer" => include_str!("../../fixtures/customer.json"),
        "event" => include_str!("../../fixtures/event.json"),
        "invoice" => include_str!("../../fixtures/invoice.json"),
        "item" => include_str!("../../fixtures/item.json"),
        "payment_intent" => include_str!("../../fixtures/payment_intent.json"),
        "payment_method" => include_str!("../../fixtures/payment_method.json"),
        "price" => include_str!("../../fixtures/price.json"),
        "product" => include_str!("../../fixtures/product.json"),
        "promotion_code" => include_str!("../../fixtures/promotion_code.json"),
        "coupon" => include_str!("../../fixtures/coupon.json"),
        "discount" => include_str!("../../fixtures/discount.json"),
        "subscription" => include_str!("../../fixtures/subscription.json"),
        other => panic!("no fixture for {other}"),
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// The object has exactly the top-level fields of Stripe's fixture for its `object` type.
pub fn assert_fixture_keys(value: &Value) {
    let kind = value["object"].as_str().expect("an object type");
    let expected: Value = serde_json::from_str(fixture(kind)).unwrap();
    assert_eq!(keys(value), keys(&expected), "fields of {kind}");
}

/// A local webhook endpoint that records every delivery and answers 500 to the first
/// `fail_first` of them.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<(String, String)>>>,
    fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let receiver = Receiver {
            url: format!("http://{addr}/stripe/webhook"),
            received: Arc::default(),
            fail_first: Arc::new(AtomicUsize::new(fail_first)),
        };
        let state = receiver.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move {
                            let signature =
                                request.headers().get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            state.received.lock().unwrap().push((signature, String::from_utf8_lossy(&body).into_owned()));
                            let failing = state.fail_first.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                            let mut response = Response::new(Full::new(Bytes::new()));
                            *response.status_mut() = if failing { 500.try_into().unwrap() } else { 200.try_into().unwrap() };
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        receiver
    }

    /// Every delivery so far, verified as the billing API's webhook would verify it.
    pub fn events(&self) -> Vec<stripe_webhook::Event> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(signature, body)| {
                stripe_webhook::Webhook::construct_event(body, signature, SECRET)
                    .unwrap_or_else(|e| panic!("delivery does not verify ({e:?}): {body}"))
            })
            .collect()
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.received.lock().unwrap().iter().map(|(_, body)| serde_json::from_str(body).unwrap()).collect()
    }
}

/// Event types, oldest first.
pub fn event_types(standin: &Standin) -> Vec<String> {
    standin.events().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
}

pub async fn settle(standin: &Standin) {
    tokio::time::timeout(Duration::from_secs(10), standin.webhooks_settled()).await.expect("webhooks settle");
}
