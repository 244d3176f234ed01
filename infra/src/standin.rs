//! Starting the offline Stripe stand-in with the catalog's prices, as the local run and the
//! tests do.

use billing_shared::domain::catalog::Catalog;
use stripe_standin::{PriceSpec, Standin, StandinConfig, demo_promotion_codes};

/// The stand-in's prices are the catalog's: every plan price and the credit bundle.
pub fn price_specs(catalog: &Catalog) -> Vec<PriceSpec> {
    let plan_prices = catalog.plans.iter().flat_map(|plan| {
        plan.prices.iter().map(|(interval, price)| PriceSpec {
            id: price.price_id.clone(),
            product_name: plan.name.clone(),
            unit_amount: price.unit_amount,
            currency: catalog.currency.clone(),
            interval: Some(interval.as_str().to_string()),
        })
    });
    let credits = PriceSpec {
        id: catalog.credits.price_id.clone(),
        product_name: "Credits".into(),
        unit_amount: catalog.credits.unit_amount,
        currency: catalog.currency.clone(),
        interval: None,
    };
    plan_prices.chain(std::iter::once(credits)).collect()
}

/// Starts the stand-in on `bind` with the catalog's prices and the demo promotion codes,
/// delivering events to `webhook_url` signed with `webhook_secret`.
pub async fn start(
    catalog: &Catalog,
    bind: std::net::SocketAddr,
    webhook_url: Option<String>,
    webhook_secret: &str,
) -> std::io::Result<Standin> {
    let config = StandinConfig {
        prices: price_specs(catalog),
        promotion_codes: demo_promotion_codes(),
        webhook_url,
        webhook_secret: webhook_secret.to_string(),
    };
    Standin::start(config, bind).await
}
