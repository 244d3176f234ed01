//! The one config loader: every setting comes from the environment (set by template.yaml in AWS,
//! by the local scripts on a laptop). Stripe secrets come from Secrets Manager by ARN, or from env
//! vars locally, and are fetched once per cold start.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig, timeout::TimeoutConfig};
use url::{Origin, Url};

use crate::domain::activity::DEFAULT_ACTIVITY_RETENTION_DAYS;
use crate::domain::catalog::{Catalog, CatalogError};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("configuration: {0} is not set")]
    Missing(&'static str),
    #[error("configuration: {name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("secrets: {0}")]
    Secrets(String),
}

/// Where the Stripe secrets come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretsSource {
    SecretsManager { arn: String },
    Env { secret_key: Option<String>, webhook_secrets: Option<String> },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub catalog: Catalog,
    /// Redirect URLs (Checkout success/cancel, Portal return) must have one of these origins.
    pub allowed_redirect_origins: Vec<Origin>,
    /// Used when a request gives no URL of its own; each must be on an allowed origin.
    pub default_success_url: Option<String>,
    pub default_cancel_url: Option<String>,
    pub default_return_url: Option<String>,
    pub stripe_api_base: Url,
    pub secrets: SecretsSource,
    pub past_due_grace_secs: i64,
    /// Whether an AGENT key may open a Customer Portal session (to hand its human the link).
    pub agent_portal_access: bool,
    /// Whether a trial needs a card: off, Checkout asks for none and a trial that ends without
    /// one is cancelled.
    pub trial_requires_card: bool,
    /// Whether Checkout lets the customer type a promotion code when the request named none.
    pub checkout_promotion_codes: bool,
    /// Stripe Tax: Checkout collects the billing address and tax ids, and every amount
    /// (Checkout, subscription changes, previews) includes tax.
    pub automatic_tax: bool,
    /// How far back the reconciler's first run pages Stripe's events (later runs start from
    /// their stored cursor).
    pub reconcile_lookback_secs: i64,
    /// A credits balance going below this emits `billing.credits_low`.
    pub credits_low_level: i64,
    /// How many days activity records are kept (their TTL).
    pub activity_retention_days: i64,
}

const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com/";
const DEFAULT_METRICS_NAMESPACE: &str = "StripeBilling";
const DEFAULT_GRACE_DAYS: i64 = 7;
const DEFAULT_RECONCILE_LOOKBACK_HOURS: i64 = 72;
const DEFAULT_CREDITS_LOW_LEVEL: i64 = 100;

fn parse_origin(name: &'static str, text: &str) -> Result<Origin, ConfigError> {
    let url = Url::parse(text).map_err(|e| ConfigError::Invalid { name, problem: format!("`{text}`: {e}") })?;
    match url.origin() {
        origin @ Origin::Tuple(..) if matches!(url.scheme(), "https" | "http") => Ok(origin),
        _ => Err(ConfigError::Invalid { name, problem: format!("`{text}` is not an http(s) origin") }),
    }
}

/// A variable of the environment; set but empty is unset.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The CloudWatch namespace of the functions' metrics (`METRICS_NAMESPACE`), checked against
/// CloudWatch's rules, which would otherwise drop every metric silently. Not part of `Config`:
/// the functions that load no config (the OpenAPI document, the approval page, the 404s) emit
/// metrics too.
pub fn metrics_namespace(lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let Some(namespace) = lookup("METRICS_NAMESPACE") else { return Ok(DEFAULT_METRICS_NAMESPACE.to_string()) };
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
    if namespace.len() > 255 || !namespace.chars().all(allowed) || namespace.trim().is_empty() || namespace.starts_with("AWS/") {
        return Err(ConfigError::Invalid {
            name: "METRICS_NAMESPACE",
            problem: format!("`{namespace}` is not a CloudWatch namespace (at most 255 of A-Z a-z 0-9 . - _ / # : and space, not AWS/...)"),
        });
    }
    Ok(namespace)
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_var)
    }

    /// Reads every setting through `lookup`, so tests can pass their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("BILLING_TABLE").ok_or(ConfigError::Missing("BILLING_TABLE"))?;
        let catalog = match lookup("CATALOG_FILE") {
            Some(path) => Catalog::load_file(&path)?,
            None => Catalog::built_in()?,
        };
        let allowed_redirect_origins = lookup("ALLOWED_REDIRECT_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse_origin("ALLOWED_REDIRECT_ORIGINS", s))
            .collect::<Result<Vec<_>, _>>()?;
        let default_url = |name: &'static str| -> Result<Option<String>, ConfigError> {
            lookup(name)
                .map(|url| {
                    crate::domain::redirect::check(&url, &allowed_redirect_origins)
                        .map(|()| url.clone())
                        .map_err(|problem| ConfigError::Invalid { name, problem: format!("`{url}` {problem}") })
                })
                .transpose()
        };
        let default_success_url = default_url("DEFAULT_SUCCESS_URL")?;
        let default_cancel_url = default_url("DEFAULT_CANCEL_URL")?;
        let default_return_url = default_url("DEFAULT_RETURN_URL")?;
        let base = lookup("STRIPE_API_BASE").unwrap_or_else(|| DEFAULT_STRIPE_API_BASE.into());
        let stripe_api_base =
            Url::parse(&base).ok().filter(|u| matches!(u.scheme(), "https" | "http") && u.path().ends_with('/')).ok_or_else(|| {
                ConfigError::Invalid { name: "STRIPE_API_BASE", problem: format!("`{base}` must be an http(s) URL ending in /") }
            })?;
        let secrets = match lookup("STRIPE_SECRET_ARN") {
            Some(arn) => SecretsSource::SecretsManager { arn },
            None => SecretsSource::Env { secret_key: lookup("STRIPE_SECRET_KEY"), webhook_secrets: lookup("STRIPE_WEBHOOK_SECRETS") },
        };
        let grace_days = match lookup("PAST_DUE_GRACE_DAYS") {
            None => DEFAULT_GRACE_DAYS,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|d| (0..=90).contains(d))
                .ok_or_else(|| ConfigError::Invalid { name: "PAST_DUE_GRACE_DAYS", problem: format!("`{text}` is not 0..=90") })?,
        };
        let switch = |name: &'static str, default: bool| match lookup(name).as_deref() {
            None => Ok(default),
            Some("on") => Ok(true),
            Some("off") => Ok(false),
            Some(other) => Err(ConfigError::Invalid { name, problem: format!("`{other}` is not `on` or `off`") }),
        };
        let agent_portal_access = switch("AGENT_PORTAL_ACCESS", true)?;
        let trial_requires_card = switch("TRIAL_REQUIRES_CARD", true)?;
        let checkout_promotion_codes = switch("CHECKOUT_PROMOTION_CODES", true)?;
        let automatic_tax = switch("AUTOMATIC_TAX", false)?;
        // Stripe lists events of the last 30 days only.
        let lookback_hours = match lookup("RECONCILE_LOOKBACK_HOURS") {
            None => DEFAULT_RECONCILE_LOOKBACK_HOURS,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|h| (1..=720).contains(h))
                .ok_or_else(|| ConfigError::Invalid { name: "RECONCILE_LOOKBACK_HOURS", problem: format!("`{text}` is not 1..=720") })?,
        };
        let credits_low_level = match lookup("CREDITS_LOW_LEVEL") {
            None => DEFAULT_CREDITS_LOW_LEVEL,
            Some(text) => text.parse::<i64>().ok().filter(|level| *level >= 0).ok_or_else(|| ConfigError::Invalid {
                name: "CREDITS_LOW_LEVEL",
                problem: format!("`{text}` is not a whole number >= 0"),
            })?,
        };
        let activity_retention_days = match lookup("ACTIVITY_RETENTION_DAYS") {
            None => DEFAULT_ACTIVITY_RETENTION_DAYS,
            Some(text) => text.parse::<i64>().ok().filter(|days| (1..=36_500).contains(days)).ok_or_else(|| ConfigError::Invalid {
                name: "ACTIVITY_RETENTION_DAYS",
                problem: format!("`{text}` is not a whole number of days from 1 to 36500"),
            })?,
        };
        Ok(Self {
            table_name,
            catalog,
            allowed_redirect_origins,
            default_success_url,
            default_cancel_url,
            default_return_url,
            stripe_api_base,
            secrets,
            past_due_grace_secs: grace_days * 86_400,
            agent_portal_access,
            trial_requires_card,
            checkout_promotion_codes,
            automatic_tax,
            reconcile_lookback_secs: lookback_hours * 3_600,
            credits_low_level,
            activity_retention_days,
        })
    }
}

/// The AWS SDK configuration, built once per cold start. Endpoints follow the standard
/// `AWS_ENDPOINT_URL_<SERVICE>` variables, which is how local runs reach DynamoDB Local.
/// The publisher's bus (`EVENT_BUS_NAME`): the one setting it needs.
pub fn event_bus_name() -> Result<String, ConfigError> {
    std::env::var("EVENT_BUS_NAME").ok().filter(|v| !v.is_empty()).ok_or(ConfigError::Missing("EVENT_BUS_NAME"))
}

pub async fn aws_sdk_config() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build();
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await
}

/// The Stripe API key and webhook signing secrets (several during a rotation).
#[derive(Clone, PartialEq)]
pub struct StripeSecrets {
    pub secret_key: String,
    pub webhook_secrets: Vec<String>,
}

impl std::fmt::Debug for StripeSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeSecrets { .. }")
    }
}

/// The secret's JSON in Secrets Manager.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretDocument {
    stripe_secret_key: String,
    #[serde(default)]
    stripe_webhook_secrets: Vec<String>,
}

fn split_secrets(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

impl StripeSecrets {
    pub async fn load(source: &SecretsSource, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        match source {
            SecretsSource::Env { secret_key, webhook_secrets } => Ok(Self {
                secret_key: secret_key.clone().ok_or(ConfigError::Missing("STRIPE_SECRET_KEY"))?,
                webhook_secrets: webhook_secrets.as_deref().map(split_secrets).unwrap_or_default(),
            }),
            SecretsSource::SecretsManager { arn } => {
                let client = aws_sdk_secretsmanager::Client::new(sdk);
                let out = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
                    ConfigError::Secrets(format!("cannot read {arn}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e)))
                })?;
                let text = out.secret_string.ok_or_else(|| ConfigError::Secrets(format!("{arn} has no SecretString")))?;
                let doc: SecretDocument = serde_json::from_str(&text).map_err(|e| {
                    // serde's message can quote the value (a secret): only say where it broke.
                    ConfigError::Secrets(format!(
                        "{arn} is not the expected JSON document {{\"stripe_secret_key\": \"...\", \"stripe_webhook_secrets\": [\"...\"]}} ({:?} error at line {}, column {})",
                        e.classify(),
                        e.line(),
                        e.column()
                    ))
                })?;
                // The stack creates the secret with a random placeholder key: say so, not "401 from Stripe".
                if !["sk_", "rk_"].iter().any(|prefix| doc.stripe_secret_key.starts_with(prefix)) {
                    return Err(ConfigError::Secrets(format!(
                        "{arn}: stripe_secret_key is not a Stripe secret or restricted key (sk_... or rk_...); put the real one (README, Deploy)"
                    )));
                }
                Ok(Self { secret_key: doc.stripe_secret_key, webhook_secrets: doc.stripe_webhook_secrets })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn minimal_environment_uses_defaults() {
        let config = config(&[("BILLING_TABLE", "billing")]).unwrap();
        assert_eq!(config.table_name, "billing");
        assert_eq!(config.stripe_api_base.as_str(), "https://api.stripe.com/");
        assert_eq!(config.past_due_grace_secs, 7 * 86_400);
        assert_eq!(config.reconcile_lookback_secs, 3 * 86_400);
        assert!(config.agent_portal_access);
        assert!(config.trial_requires_card && config.checkout_promotion_codes && !config.automatic_tax);
        assert!(config.allowed_redirect_origins.is_empty());
        assert_eq!(config.secrets, SecretsSource::Env { secret_key: None, webhook_secrets: None });
    }

    #[test]
    fn missing_and_invalid_settings_are_named() {
        assert_eq!(config(&[]).unwrap_err(), ConfigError::Missing("BILLING_TABLE"));
        let err = config(&[("BILLING_TABLE", "t"), ("ALLOWED_REDIRECT_ORIGINS", "ftp://x.example")]).unwrap_err();
        assert!(err.to_string().contains("ALLOWED_REDIRECT_ORIGINS"), "{err}");
        let err = config(&[("BILLING_TABLE", "t"), ("STRIPE_API_BASE", "http://127.0.0.1:1/v")]).unwrap_err();
        assert!(err.to_string().contains("STRIPE_API_BASE"), "{err}");
        let err = config(&[
            ("BILLING_TABLE", "t"),
            ("ALLOWED_REDIRECT_ORIGINS", "https://a.example"),
            ("DEFAULT_SUCCESS_URL", "https://b.example/ok"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("DEFAULT_SUCCESS_URL"), "{err}");
        let err = config(&[("BILLING_TABLE", "t"), ("AGENT_PORTAL_ACCESS", "yes")]).unwrap_err();
        assert!(err.to_string().contains("AGENT_PORTAL_ACCESS"), "{err}");
        assert!(!config(&[("BILLING_TABLE", "t"), ("AGENT_PORTAL_ACCESS", "off")]).unwrap().agent_portal_access);
        for name in ["TRIAL_REQUIRES_CARD", "CHECKOUT_PROMOTION_CODES", "AUTOMATIC_TAX"] {
            let err = config(&[("BILLING_TABLE", "t"), (name, "true")]).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        let flipped = config(&[("BILLING_TABLE", "t"), ("TRIAL_REQUIRES_CARD", "off"), ("AUTOMATIC_TAX", "on")]).unwrap();
        assert!(!flipped.trial_requires_card && flipped.automatic_tax);
        let err = config(&[("BILLING_TABLE", "t"), ("PAST_DUE_GRACE_DAYS", "-1")]).unwrap_err();
        assert!(err.to_string().contains("PAST_DUE_GRACE_DAYS"), "{err}");
        let err = config(&[("BILLING_TABLE", "t"), ("RECONCILE_LOOKBACK_HOURS", "0")]).unwrap_err();
        assert!(err.to_string().contains("RECONCILE_LOOKBACK_HOURS"), "{err}");
        assert_eq!(config(&[("BILLING_TABLE", "t"), ("RECONCILE_LOOKBACK_HOURS", "1")]).unwrap().reconcile_lookback_secs, 3_600);
        assert!(config(&[("BILLING_TABLE", "t"), ("CREDITS_LOW_LEVEL", "-1")]).unwrap_err().to_string().contains("CREDITS_LOW_LEVEL"));
        assert_eq!(config(&[("BILLING_TABLE", "t"), ("CREDITS_LOW_LEVEL", "5")]).unwrap().credits_low_level, 5);
        assert_eq!(config(&[("BILLING_TABLE", "t")]).unwrap().activity_retention_days, 400);
        assert_eq!(config(&[("BILLING_TABLE", "t"), ("ACTIVITY_RETENTION_DAYS", "30")]).unwrap().activity_retention_days, 30);
        assert!(
            config(&[("BILLING_TABLE", "t"), ("ACTIVITY_RETENTION_DAYS", "0")])
                .unwrap_err()
                .to_string()
                .contains("ACTIVITY_RETENTION_DAYS")
        );
        let err = config(&[("BILLING_TABLE", "t"), ("CATALOG_FILE", "/nonexistent.json")]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent.json"), "{err}");
    }

    #[test]
    fn redirect_origins_and_secret_arn_are_read() {
        let config = config(&[
            ("BILLING_TABLE", "t"),
            ("ALLOWED_REDIRECT_ORIGINS", "https://app.example.com, http://localhost:3000"),
            ("STRIPE_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:1:secret:stripe"),
        ])
        .unwrap();
        let origins: Vec<_> = config.allowed_redirect_origins.iter().map(|o| o.ascii_serialization()).collect();
        assert_eq!(origins, ["https://app.example.com", "http://localhost:3000"]);
        assert!(matches!(config.secrets, SecretsSource::SecretsManager { .. }));
    }

    #[test]
    fn metrics_namespace_defaults_and_is_checked() {
        let namespace = |value: Option<&str>| metrics_namespace(|_| value.map(str::to_string));
        assert_eq!(namespace(None).unwrap(), "StripeBilling");
        assert_eq!(namespace(Some("Billing/prod-eu #2")).unwrap(), "Billing/prod-eu #2");
        for bad in ["AWS/Lambda", "   ", "bad\u{e9}", "semi;colon"] {
            let err = namespace(Some(bad)).unwrap_err();
            assert!(err.to_string().contains("METRICS_NAMESPACE"), "{bad}: {err}");
        }
        assert!(namespace(Some(&"n".repeat(256))).is_err());
    }

    #[tokio::test]
    async fn env_secrets_split_rotation_list_and_never_debug_print() {
        let source = SecretsSource::Env { secret_key: Some("sk_test_123".into()), webhook_secrets: Some("whsec_new, whsec_old".into()) };
        let sdk = SdkConfig::builder().behavior_version(BehaviorVersion::latest()).build();
        let secrets = StripeSecrets::load(&source, &sdk).await.unwrap();
        assert_eq!(secrets.webhook_secrets, ["whsec_new", "whsec_old"]);
        assert!(!format!("{secrets:?}").contains("sk_test"));
        let missing = SecretsSource::Env { secret_key: None, webhook_secrets: None };
        assert_eq!(StripeSecrets::load(&missing, &sdk).await.unwrap_err(), ConfigError::Missing("STRIPE_SECRET_KEY"));
    }
}
