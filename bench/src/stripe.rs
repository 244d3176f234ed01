//! The offline Stripe stand-in (the one the local run and the tests use), selling the
//! catalog's prices, for the functions that call Stripe.

use billing_shared::domain::catalog::Catalog;
use stripe_standin::{PriceSpec, Standin, StandinConfig};

/// The Stripe API key the functions are given (the stand-in accepts any).
pub const SECRET_KEY: &str = "sk_test_bench";
/// The webhook signing secret the functions verify deliveries with.
pub const WEBHOOK_SECRET: &str = "whsec_bench";

pub async fn start(catalog: &Catalog) -> std::io::Result<Standin> {
    let price = |id: &str, product: &str, unit_amount, interval: Option<&str>| PriceSpec {
        id: id.to_string(),
        product_name: product.to_string(),
        unit_amount,
        currency: catalog.currency.clone(),
        interval: interval.map(str::to_string),
    };
    let mut prices: Vec<PriceSpec> = catalog
        .plans
        .iter()
        .flat_map(|plan| plan.prices.iter().map(|(interval, p)| price(&p.price_id, &plan.name, p.unit_amount, Some(interval.as_str()))))
        .collect();
    prices.push(price(&catalog.credits.price_id, "Credits", catalog.credits.unit_amount, None));
    let config = StandinConfig { prices, promotion_codes: Vec::new(), webhook_url: None, webhook_secret: WEBHOOK_SECRET.into() };
    Standin::start(config, ([127, 0, 0, 1], 0).into()).await
}
