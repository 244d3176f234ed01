//! A TestApi wired to the offline Stripe stand-in (or to a Stripe that is down).

use billing_infra::template::Template;
use billing_shared::App;
use billing_shared::config::aws_sdk_config;
use billing_shared::stripe::StripeGateway;
use stripe_core::customer::{UpdateCustomer, UpdateCustomerInvoiceSettings};
use stripe_standin::Standin;

use crate::{TestApi, require_env, test_config_with, unique_table};

pub const WEBHOOK_SECRET: &str = "whsec_test_secret";
/// The local run's catalog: the built-in one with a 14-day trial on Pro.
pub const DEMO_CATALOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/demo-plans.json");

pub struct StripeTestApi {
    pub api: TestApi,
    pub standin: Standin,
}

impl std::ops::Deref for StripeTestApi {
    type Target = TestApi;
    fn deref(&self) -> &TestApi {
        &self.api
    }
}

async fn app_with_table(vars: &[(&str, &str)]) -> App {
    require_env("AWS_ENDPOINT_URL_DYNAMODB");
    let table = unique_table();
    let app = App::new(test_config_with(&table, vars), aws_sdk_config().await);
    Template::built_in().create_table(app.store.client(), &table).await.expect("create test table");
    app
}

impl StripeTestApi {
    pub async fn new() -> Self {
        Self::with_config(&[]).await
    }

    /// Like `new`, with extra config variables (e.g. `CATALOG_FILE`).
    pub async fn with_config(vars: &[(&str, &str)]) -> Self {
        let app = app_with_table(vars).await;
        let standin = billing_infra::standin::start(&app.config.catalog, "127.0.0.1:0".parse().unwrap(), None, WEBHOOK_SECRET)
            .await
            .expect("start the Stripe stand-in");
        let base = url::Url::parse(&standin.base_url()).unwrap();
        let gateway = StripeGateway::new("sk_test_standin", &base).unwrap();
        let mut app = app.with_stripe_gateway(gateway);
        app.webhook_secrets = vec![WEBHOOK_SECRET.to_string()];
        Self { api: TestApi::over(app), standin }
    }

    /// Like `new`, with the stand-in delivering its events to this API's `/stripe/webhook`.
    pub async fn with_webhooks() -> Self {
        Self::with_webhooks_and(&[]).await
    }

    /// `with_webhooks`, with extra config variables.
    pub async fn with_webhooks_and(vars: &[(&str, &str)]) -> Self {
        let api = Self::with_config(vars).await;
        let base = api.serve_http().await;
        api.standin.set_webhook(Some(format!("{base}/stripe/webhook")), WEBHOOK_SECRET.into());
        api
    }

    /// An org `acme` subscribed through Checkout to `body` (webhooks delivered); its HUMAN
    /// and AGENT (`assistant`) keys.
    pub async fn subscribed(body: &str) -> (Self, String, String) {
        let api = Self::with_webhooks().await;
        let human = api.org_with_key("acme").await;
        let (_, agent) = api.issue_key("acme", "assistant", billing_shared::domain::principal::PrincipalKind::Agent).await;
        let reply = api.post_json("/billing/checkout", &human, body).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        api.standin.pay_checkout(reply.body["session_id"].as_str().unwrap()).await.unwrap();
        api.standin.webhooks_settled().await;
        assert_eq!(api.get("/billing", Some(&human)).await.body["status"], "active");
        (api, human, agent)
    }

    /// Makes Stripe's test payment method `card` (`pm_card_visa`, `pm_card_chargeDeclined`,
    /// `pm_card_authenticationRequired`) the default card of `org_id`'s customer, as a human
    /// does in the Customer Portal.
    pub async fn set_card(&self, org_id: &str, card: &str) {
        let org = self.app.store.get_org(org_id).await.unwrap().expect("the org exists");
        let customer = org.stripe_customer_id.expect("the org has a Stripe customer");
        let mut settings = UpdateCustomerInvoiceSettings::new();
        settings.default_payment_method = Some(card.to_string());
        UpdateCustomer::new(customer.as_str()).invoice_settings(settings).send(&self.stripe_client()).await.expect("set the default card");
    }

    /// The subscription `subscribed` created.
    pub fn subscription_id(&self) -> String {
        let created = self.standin.events().into_iter().find(|e| e["type"] == "customer.subscription.created").expect("a subscription");
        created["data"]["object"]["id"].as_str().unwrap().to_string()
    }

    /// How many times that subscription was updated at Stripe.
    /// The updates Stripe applied to the subscription: a replay of a saved request (the same
    /// idempotency key, answered from Stripe's record) changes nothing and is not counted.
    pub fn subscription_updates(&self) -> usize {
        self.calls("POST", &format!("/v1/subscriptions/{}", self.subscription_id())).iter().filter(|r| !r.replayed).count()
    }

    /// A Stripe client on the stand-in, for changes a customer makes at Stripe (e.g. in the portal).
    pub fn stripe_client(&self) -> stripe::Client {
        stripe::ClientBuilder::new("sk_test_customer").url(self.standin.base_url()).build().unwrap()
    }

    /// POSTs `payload` to `/stripe/webhook`, signed with `secret` at `timestamp` (now if `None`).
    pub async fn deliver(&self, payload: &str, secret: &str, timestamp: Option<i64>) -> crate::Reply {
        let signature = stripe_webhook::Webhook::generate_test_header(payload, secret, timestamp);
        let req = http::Request::builder()
            .method("POST")
            .uri("/stripe/webhook")
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(payload.as_bytes().to_vec())
            .unwrap();
        self.request(req).await
    }

    /// The stand-in's events of `event_type`, oldest first, as the JSON Stripe sends.
    pub fn events_of(&self, event_type: &str) -> Vec<String> {
        self.standin.events().into_iter().filter(|e| e["type"] == event_type).map(|e| e.to_string()).collect()
    }

    /// The stand-in's recorded API requests to `path` with `method`.
    pub fn calls(&self, method: &str, path: &str) -> Vec<stripe_standin::RecordedRequest> {
        self.standin.requests().into_iter().filter(|r| r.method == method && r.path == path).collect()
    }
}

/// A TestApi whose Stripe is unreachable (nothing listens on its port).
pub async fn api_with_stripe_down() -> TestApi {
    let app = app_with_table(&[]).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    TestApi::over(app.with_stripe_gateway(StripeGateway::new("sk_test_down", &base).unwrap()))
}
