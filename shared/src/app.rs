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
    /// Built only by the functions that call Stripe (`with_stripe`).
    stripe: Option<StripeGateway>,
    /// The active webhook signing secrets (two during a rotation).
    pub webhook_secrets: Vec<String>,
}

impl App {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_sdk_config().await;
        Ok(Self::new(config, sdk))
    }

    pub fn new(config: Config, sdk: SdkConfig) -> Self {
        let rules = CapRules { catalog: config.catalog.clone(), grace_secs: config.past_due_grace_secs };
        let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name.clone(), rules);
        Self { config, sdk, store, stripe: None, webhook_secrets: Vec::new() }
    }

    /// Loads the Stripe secrets (Secrets Manager or env) and builds the Stripe client.
    pub async fn with_stripe(self) -> Result<Self, ConfigError> {
        let secrets = StripeSecrets::load(&self.config.secrets, &self.sdk).await?;
        let gateway = StripeGateway::new(&secrets.secret_key, &self.config.stripe_api_base)?;
        Ok(Self { webhook_secrets: secrets.webhook_secrets, ..self.with_stripe_gateway(gateway) })
    }

    pub fn with_stripe_gateway(mut self, gateway: StripeGateway) -> Self {
        self.stripe = Some(gateway);
        self
    }

    pub fn stripe(&self) -> Result<&StripeGateway, ApiError> {
        self.stripe.as_ref().ok_or_else(|| ApiError::internal("This function was started without its Stripe client."))
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
