//! The fixed price list a stand-in is started with, and the products behind it.

use serde::Deserialize;

use crate::ids::IdGen;

/// One price in the stand-in's catalog. Prices with the same `product_name` share a product.
#[derive(Clone, Debug, Deserialize)]
pub struct PriceSpec {
    pub id: String,
    pub product_name: String,
    /// In the currency's smallest unit (cents).
    pub unit_amount: u64,
    /// Lowercase ISO code, e.g. `usd`.
    pub currency: String,
    /// `day`, `week`, `month` or `year`; `None` for a one-time price.
    #[serde(default)]
    pub interval: Option<String>,
}

pub(crate) struct Price {
    pub(crate) id: String,
    pub(crate) product: String,
    pub(crate) product_name: String,
    pub(crate) unit_amount: u64,
    pub(crate) currency: String,
    /// `None` for a one-time price.
    pub(crate) interval: Option<String>,
    pub(crate) created: i64,
}

pub(crate) struct Product {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) default_price: String,
    pub(crate) created: i64,
}

pub(crate) struct Catalog {
    prices: Vec<Price>,
    products: Vec<Product>,
}

const INTERVALS: [&str; 4] = ["day", "week", "month", "year"];

impl Catalog {
    /// Validates the specs (unique ids, known intervals, ISO currency codes) and groups prices
    /// into one product per distinct `product_name`, as a Stripe account would hold them.
    pub(crate) fn new(specs: &[PriceSpec], ids: &mut IdGen, created: i64) -> Result<Self, String> {
        let mut catalog = Catalog { prices: Vec::new(), products: Vec::new() };
        for spec in specs {
            if spec.id.is_empty() || catalog.price(&spec.id).is_some() {
                return Err(format!("price id {:?} is empty or used twice", spec.id));
            }
            if let Some(interval) = &spec.interval
                && !INTERVALS.contains(&interval.as_str())
            {
                return Err(format!("price {}: interval must be one of {INTERVALS:?}", spec.id));
            }
            if spec.currency.len() != 3 || !spec.currency.chars().all(|c| c.is_ascii_lowercase()) {
                return Err(format!("price {}: currency must be a lowercase ISO code such as \"usd\"", spec.id));
            }
            let product = match catalog.products.iter().find(|p| p.name == spec.product_name) {
                Some(product) => product.id.clone(),
                None => {
                    let id = ids.id("prod_", 14);
                    catalog.products.push(Product {
                        id: id.clone(),
                        name: spec.product_name.clone(),
                        default_price: spec.id.clone(),
                        created,
                    });
                    id
                }
            };
            catalog.prices.push(Price {
                id: spec.id.clone(),
                product,
                product_name: spec.product_name.clone(),
                unit_amount: spec.unit_amount,
                currency: spec.currency.clone(),
                interval: spec.interval.clone(),
                created,
            });
        }
        Ok(catalog)
    }

    pub(crate) fn price(&self, id: &str) -> Option<&Price> {
        self.prices.iter().find(|p| p.id == id)
    }

    pub(crate) fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    pub(crate) fn product_named(&self, name: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.name == name)
    }
}

/// Currencies Stripe counts in whole units (no minor unit).
const ZERO_DECIMAL: [&str; 16] =
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];

/// An amount in the smallest currency unit, for people: `$20.00`, `€9.50`, `JPY 500`.
pub(crate) fn money(amount: i64, currency: &str) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let units = amount.unsigned_abs();
    let symbol = match currency {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        _ => "",
    };
    let figure = if ZERO_DECIMAL.contains(&currency) { units.to_string() } else { format!("{}.{:02}", units / 100, units % 100) };
    if symbol.is_empty() { format!("{sign}{} {figure}", currency.to_uppercase()) } else { format!("{sign}{symbol}{figure}") }
}

/// A price's amount for `quantity` units, in the smallest currency unit.
pub(crate) fn full_amount(price: &Price, quantity: u64) -> i64 {
    i64::try_from(price.unit_amount.saturating_mul(quantity)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats_by_currency() {
        assert_eq!(money(2000, "usd"), "$20.00");
        assert_eq!(money(-950, "eur"), "-€9.50");
        assert_eq!(money(500, "jpy"), "JPY 500");
        assert_eq!(money(5, "chf"), "CHF 0.05");
    }
}
