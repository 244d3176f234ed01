//! Stripe secrets from Secrets Manager, for real against moto's server.

use aws_sdk_secretsmanager::Client;
use billing_shared::config::{ConfigError, SecretsSource, StripeSecrets};
use billing_tests::require_env;

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
