//! What a function builds once per cold start: config, AWS clients, the store.

use aws_config::SdkConfig;

use crate::config::{Config, ConfigError, aws_sdk_config};
use crate::store::Store;

#[derive(Clone, Debug)]
pub struct App {
    pub config: Config,
    pub sdk: SdkConfig,
    pub store: Store,
}

impl App {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_sdk_config().await;
        Ok(Self::new(config, sdk))
    }

    pub fn new(config: Config, sdk: SdkConfig) -> Self {
        let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name.clone());
        Self { config, sdk, store }
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
