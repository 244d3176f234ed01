//! Runs the Stripe stand-in on its own, for manual use (the project's local run embeds the
//! library instead).
//!
//! ```text
//! stripe-standin [PRICES_JSON]
//! ```
//!
//! `PRICES_JSON` is a file holding a JSON array of prices in the `PriceSpec` shape:
//! `[{"id": "price_pro_monthly", "product_name": "Pro", "unit_amount": 2000, "currency": "usd",
//! "interval": "month"}]`. The account starts with the demo promotion codes
//! (`demo_promotion_codes`). Environment: `PORT` (default 12111), `STRIPE_WEBHOOK_URL` (no
//! deliveries when unset), `STRIPE_WEBHOOK_SECRET` (default `whsec_standin`).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use stripe_standin::{PriceSpec, Standin, StandinConfig, demo_promotion_codes};

const USAGE: &str = "usage: stripe-standin [PRICES_JSON]  (env: PORT, STRIPE_WEBHOOK_URL, STRIPE_WEBHOOK_SECRET)";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("stripe-standin: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let prices = match std::env::args().nth(1).as_deref() {
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return Ok(());
        }
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            serde_json::from_str::<Vec<PriceSpec>>(&text).map_err(|e| format!("{path} is not a list of prices: {e}"))?
        }
        None => Vec::new(),
    };
    let port = match std::env::var("PORT") {
        Ok(port) => port.parse::<u16>().map_err(|_| format!("PORT must be a port number, not {port:?}"))?,
        Err(_) => 12111,
    };
    let config = StandinConfig {
        prices,
        promotion_codes: demo_promotion_codes(),
        webhook_url: std::env::var("STRIPE_WEBHOOK_URL").ok().filter(|url| !url.is_empty()),
        webhook_secret: std::env::var("STRIPE_WEBHOOK_SECRET").unwrap_or_else(|_| "whsec_standin".into()),
    };
    let webhook = config.webhook_url.clone().unwrap_or_else(|| "none".into());
    let standin = Standin::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|e| format!("cannot start on port {port}: {e}"))?;
    println!("Stripe stand-in at {} (webhooks to {webhook}); Ctrl-C stops it", standin.base_url());
    tokio::signal::ctrl_c().await.map_err(|e| format!("cannot wait for Ctrl-C: {e}"))
}
