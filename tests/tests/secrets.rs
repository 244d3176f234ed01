//! Stripe secrets from Secrets Manager, for real against moto's server.

use aws_sdk_secretsmanager::Client;
use billing_infra::template::Template;
use billing_shared::App;
use billing_shared::config::{ConfigError, SecretsSource, StripeSecrets};
use billing_tests::logs::CapturedLogs;
use billing_tests::{TestApi, assert_envelope, require_env};

async fn moto() -> (aws_config::SdkConfig, Client) {
    let endpoint = require_env("MOTO_ENDPOINT");
    let sdk = billing_shared::config::aws_sdk_config().await.into_builder().endpoint_url(endpoint).build();
    let client = Client::new(&sdk);
    (sdk, client)
}

async fn create_secret(client: &Client, name: &str, value: &str) -> String {
    client.create_secret().name(name).secret_string(value).send().await.expect("create secret").arn.expect("arn")
}

#[tokio::test]
async fn secrets_are_read_from_secrets_manager_by_arn() {
    let (sdk, client) = moto().await;
    let name = format!("stripe-{}", billing_tests::unique_table());
    let arn =
        create_secret(&client, &name, r#"{"stripe_secret_key":"sk_test_abc","stripe_webhook_secrets":["whsec_new","whsec_old"]}"#).await;
    let secrets = StripeSecrets::load(&SecretsSource::SecretsManager { arn }, &sdk).await.unwrap();
    assert_eq!(secrets.secret_key, "sk_test_abc");
    assert_eq!(secrets.webhook_secrets, ["whsec_new", "whsec_old"]);
}

#[tokio::test]
async fn missing_or_malformed_secret_is_a_clear_error_without_the_value() {
    let (sdk, client) = moto().await;
    let missing = StripeSecrets::load(
        &SecretsSource::SecretsManager { arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope".into() },
        &sdk,
    )
    .await
    .unwrap_err();
    assert!(matches!(&missing, ConfigError::Secrets(m) if m.contains("secret:nope")), "{missing}");

    let name = format!("bad-{}", billing_tests::unique_table());
    let arn = create_secret(&client, &name, r#"{"stripe_key":"sk_test_leak"}"#).await;
    let err = StripeSecrets::load(&SecretsSource::SecretsManager { arn }, &sdk).await.unwrap_err().to_string();
    assert!(err.contains("not the expected JSON"), "{err}");
    assert!(!err.contains("sk_test_leak"), "the secret's value must not appear in errors: {err}");

    // A list given as a string: serde would quote the value; the error must not.
    let name = format!("bad-type-{}", billing_tests::unique_table());
    let arn = create_secret(&client, &name, r#"{"stripe_secret_key":"sk_test_x","stripe_webhook_secrets":"whsec_leak"}"#).await;
    let err = StripeSecrets::load(&SecretsSource::SecretsManager { arn }, &sdk).await.unwrap_err().to_string();
    assert!(err.contains("not the expected JSON"), "{err}");
    assert!(!err.contains("whsec_leak"), "the secret's value must not appear in errors: {err}");
}

#[tokio::test]
async fn a_function_whose_secret_is_missing_or_malformed_answers_503_and_logs_why_without_secrets() {
    let (sdk, client) = moto().await;
    let malformed = create_secret(
        &client,
        &format!("malformed-{}", billing_tests::unique_table()),
        r#"{"stripe_secret_key":"sk_live_leak","stripe_webhook_secrets":"whsec_leak"}"#,
    )
    .await;
    // What the stack creates before anyone fills it in: valid JSON, a random key, no webhook secret.
    let placeholder = create_secret(
        &client,
        &format!("placeholder-{}", billing_tests::unique_table()),
        r#"{"stripe_webhook_secrets":[],"stripe_secret_key":"Q7wERtyUleakPlaceholder"}"#,
    )
    .await;
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent".to_string();
    for (arn, problem) in
        [(malformed, "not the expected JSON"), (placeholder, "not a Stripe secret or restricted key"), (missing, "secret:absent")]
    {
        let logs = CapturedLogs::default();
        let _guard = tracing::subscriber::set_default(logs.subscriber());
        let table = billing_tests::unique_table();
        let config = billing_tests::test_config_with(&table, &[("STRIPE_SECRET_ARN", &arn)]);
        let app = App::new(config, sdk.clone());
        Template::built_in().create_table(app.store.client(), &table).await.expect("table");
        let api = TestApi::over(app.with_stripe().await);
        let key = api.org_with_key("acme").await;

        let portal = api.post_json("/billing/portal", &key, "{}").await;
        assert_envelope(&portal, 503, "service_unavailable");
        assert!(portal.body["message"].as_str().unwrap().contains("Stripe credentials"), "{}", portal.body);
        let webhook = api
            .request(
                http::Request::post("/stripe/webhook")
                    .header("content-type", "application/json")
                    .header("stripe-signature", "t=1,v1=00")
                    .body(b"{}".to_vec())
                    .unwrap(),
            )
            .await;
        assert_envelope(&webhook, 503, "service_unavailable");
        // Routes that do not need Stripe keep working.
        assert_eq!(api.get("/billing", Some(&key)).await.status, 200);

        let text = logs.text();
        let line =
            text.lines().find(|l| l.contains("Stripe secrets could not be loaded")).unwrap_or_else(|| panic!("no log line in {text}"));
        assert!(line.contains(problem) && line.contains("\"level\":\"ERROR\""), "{line}");
        assert!(!["sk_live_leak", "whsec_leak", "Q7wERtyUleak"].iter().any(|s| text.contains(s)), "a secret reached the logs: {text}");
    }
}

#[tokio::test]
async fn a_webhook_without_a_signing_secret_is_503_so_stripe_delivers_it_again() {
    let (sdk, client) = moto().await;
    let arn = create_secret(
        &client,
        &format!("no-whsec-{}", billing_tests::unique_table()),
        r#"{"stripe_secret_key":"sk_test_abc","stripe_webhook_secrets":[]}"#,
    )
    .await;
    let table = billing_tests::unique_table();
    let app = App::new(billing_tests::test_config_with(&table, &[("STRIPE_SECRET_ARN", &arn)]), sdk);
    Template::built_in().create_table(app.store.client(), &table).await.expect("table");
    let api = TestApi::over(app.with_stripe().await);
    let delivery = http::Request::post("/stripe/webhook")
        .header("content-type", "application/json")
        .header("stripe-signature", "t=1,v1=00")
        .body(br#"{"id":"evt_1","type":"invoice.paid","created":1,"data":{"object":{}}}"#.to_vec())
        .unwrap();
    assert_envelope(&api.request(delivery).await, 503, "service_unavailable");
}
