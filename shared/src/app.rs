//! What a function builds once per cold start: config, AWS clients, the store.

use aws_config::SdkConfig;

use crate::config::{Config, ConfigError, StripeSecrets, aws_sdk_config};
use crate::domain::entitlements::CapRules;
use crate::error::ApiError;
use crate::store::Store;
use crate::stripe::StripeGateway;

#[derive(Clone, Debug)]
pub struct App {
    pub config: Config,
    pub sdk: SdkConfig,
    pub store: Store,
    /// Set only in the functions that call Stripe (`with_stripe`).
    stripe: StripeAccess,
    /// The active webhook signing secrets (two during a rotation).
    pub webhook_secrets: Vec<String>,
}

/// Whether this function has its Stripe client.
#[derive(Clone, Debug)]
enum StripeAccess {
    NotLoaded,
    Ready(Box<StripeGateway>),
    /// The secrets could not be loaded at start (the log says why): requests that need Stripe
    /// answer 503 until a new instance loads them.
    Unavailable,
}

impl App {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_sdk_config().await;
        Ok(Self::new(config, sdk))
    }

    pub fn new(config: Config, sdk: SdkConfig) -> Self {
        let rules = CapRules { catalog: config.catalog.clone(), grace_secs: config.past_due_grace_secs };
        let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name.clone(), rules)
            .with_activity_retention_days(config.activity_retention_days);
        Self { config, sdk, store, stripe: StripeAccess::NotLoaded, webhook_secrets: Vec::new() }
    }

    /// Loads the Stripe secrets (Secrets Manager or env) and builds the Stripe client. When that
    /// fails the function still starts, so clients get the 503 envelope rather than API Gateway's
    /// bare 500: the problem is logged here, once, without any secret value.
    pub async fn with_stripe(self) -> Self {
        match Self::load_stripe(&self).await {
            Ok((gateway, webhook_secrets)) => Self { webhook_secrets, ..self.with_stripe_gateway(gateway) },
            Err(err) => {
                tracing::error!(problem = %err, "the Stripe secrets could not be loaded: requests that need Stripe answer 503 until a new instance loads them");
                Self { stripe: StripeAccess::Unavailable, ..self }
            }
        }
    }

    async fn load_stripe(&self) -> Result<(StripeGateway, Vec<String>), ConfigError> {
        let secrets = StripeSecrets::load(&self.config.secrets, &self.sdk).await?;
        let gateway = StripeGateway::new(&secrets.secret_key, &self.config.stripe_api_base)?;
        Ok((gateway, secrets.webhook_secrets))
    }

    pub fn with_stripe_gateway(mut self, gateway: StripeGateway) -> Self {
        self.stripe = StripeAccess::Ready(Box::new(gateway));
        self
    }

    pub fn stripe(&self) -> Result<&StripeGateway, ApiError> {
        match &self.stripe {
            StripeAccess::Ready(gateway) => Ok(gateway),
            StripeAccess::Unavailable => Err(ApiError::stripe_unavailable()),
            StripeAccess::NotLoaded => Err(ApiError::internal("This function was started without its Stripe client.")),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
