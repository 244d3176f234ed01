//! `local-api`: creates the table from template.yaml in DynamoDB Local, starts the offline
//! Stripe stand-in (delivering signed events to this API's /stripe/webhook), seeds the demo
//! org and keys, serves every route of template.yaml on 127.0.0.1 and runs the reconciler
//! every minute (its schedule in AWS), and the events publisher (into moto, when it runs) and the
//! automatic top-up on the table's stream, until Ctrl-C. It counts the metrics of every function (`metric_counts`) for
//! the events page.
//! Started by `scripts/run-local` (and by `scripts/test` for the contract test), which start
//! DynamoDB Local first. `PORT=0` takes a free port.

use std::sync::Arc;
use std::time::Duration;

use billing_functions::reconciler;
use billing_infra::gateway::{self, Gateway};
use billing_infra::outbox::{LocalBus, StreamPump};
use billing_infra::seed::{DemoKeys, seed_demo};
use billing_infra::standin;
use billing_infra::template::Template;
use billing_infra::{local_pages, metric_counts};
use billing_shared::billing::auto_top_up::on_spends;
use billing_shared::config::{Config, aws_sdk_config};
use billing_shared::stripe::StripeGateway;
use billing_shared::{App, now, telemetry};
use tokio::net::TcpListener;
use tokio::time::{Instant, interval_at};

const RECONCILE_EVERY: Duration = Duration::from_secs(60);
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// The demo catalog, beside this crate's manifest.
const DEMO_CATALOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo-plans.json");

fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    format!("whsec_local_{}", hex::encode(bytes))
}

/// The local run's settings where the environment gives none: redirects to its own landing
/// pages (`/local/...`) on its own origin, and the demo catalog (the built-in one with a
/// 14-day trial on Pro, so a newcomer sees a trial at once).
fn local_defaults(base: &str) -> Vec<(&'static str, String)> {
    let [success, cancel, portal_return] = local_pages::default_urls(base);
    let origins = format!("{base},{}", base.replace("127.0.0.1", "localhost"));
    vec![
        ("BILLING_TABLE", "billing-local".into()),
        ("ALLOWED_REDIRECT_ORIGINS", origins),
        ("DEFAULT_SUCCESS_URL", success),
        ("DEFAULT_CANCEL_URL", cancel),
        ("DEFAULT_RETURN_URL", portal_return),
        ("CATALOG_FILE", DEMO_CATALOG.into()),
    ]
}

/// The outbox, as in AWS: the table's stream through the publisher onto a bus in moto (when
/// `AWS_ENDPOINT_URL_EVENTBRIDGE` points at one), whose rule forwards to an SQS queue. Says
/// where the events go.
async fn publish_events(app: &App) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    if std::env::var_os("AWS_ENDPOINT_URL_EVENTBRIDGE").is_none() {
        return Ok("not published (no AWS_ENDPOINT_URL_EVENTBRIDGE: scripts/run-local starts moto for them)".into());
    }
    let bus = LocalBus::create(&app.sdk, "billing-local").await?;
    let mut pump = StreamPump::new(&app.sdk, app.store.table()).await?;
    let said = format!("the table's stream -> bus `{}` in moto -> queue {}", bus.bus_name, bus.queue_url);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PUBLISH_EVERY);
        loop {
            every.tick().await;
            if let Err(err) = pump.pump(&bus.bus).await {
                tracing::error!(error = %err, "reading the table's stream failed; trying again");
            }
        }
    });
    Ok(said)
}

/// The automatic top-up's function on the table's stream, as its event source mapping runs it in
/// AWS.
async fn top_up_automatically(app: &App) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut pump = StreamPump::new(&app.sdk, app.store.table()).await?;
    let app = app.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PUBLISH_EVERY);
        loop {
            every.tick().await;
            if let Err(err) = pump.deliver(|batch| on_spends(&app, batch, now())).await {
                tracing::error!(error = %err, "reading the table's stream failed; trying again");
            }
        }
    });
    Ok(())
}

/// With `DEMO_KEYS_FILE` set, the URL and demo keys go there too (shell `NAME=value` lines),
/// for scripts that start the local run in the background. Written whole, then renamed.
fn write_keys_file(base: &str, keys: &DemoKeys) -> std::io::Result<()> {
    let Some(path) = std::env::var_os("DEMO_KEYS_FILE") else { return Ok(()) };
    let path = std::path::PathBuf::from(path);
    let partial = path.with_extension("partial");
    let lines =
        format!("LOCAL_API_URL={base}\nDEMO_HUMAN_KEY={}\nDEMO_AGENT_KEY={}\nDEMO_ADMIN_KEY={}\n", keys.human, keys.agent, keys.admin);
    std::fs::write(&partial, lines)?;
    std::fs::rename(partial, path)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    telemetry::init();
    metric_counts::install();
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let defaults = local_defaults(&base);
    let config = Config::from_lookup(|name| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).or_else(|| defaults.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
    })?;
    let mut app = App::new(config, aws_sdk_config().await);
    let table = app.store.table().to_string();
    let tables = app.store.client().list_tables().send().await?;
    if !tables.table_names().contains(&table) {
        Template::built_in().create_table(app.store.client(), &table).await?;
    }

    let webhook_secret = random_secret();
    let stripe =
        standin::start(&app.config.catalog, "127.0.0.1:0".parse()?, Some(format!("{base}/stripe/webhook")), &webhook_secret).await?;
    app = app.with_stripe_gateway(StripeGateway::new("sk_test_local", &url::Url::parse(&stripe.base_url())?)?);
    app.webhook_secrets = vec![webhook_secret];

    let keys = seed_demo(&app.store).await?;
    write_keys_file(&base, &keys)?;
    let reconciler_app = app.clone();
    tokio::spawn(async move {
        let mut schedule = interval_at(Instant::now() + RECONCILE_EVERY, RECONCILE_EVERY);
        loop {
            schedule.tick().await;
            // The run logs its report; a failed one is retried by the next.
            if let Err(err) = reconciler::handle(&reconciler_app, Default::default()).await {
                tracing::error!(error = %err, "reconciler run failed");
            }
        }
    });
    let outbox = publish_events(&app).await?;
    top_up_automatically(&app).await?;
    let gateway = Arc::new(Gateway::new(app));

    println!("\nBilling API listening on {base} (table `{table}` in DynamoDB Local)");
    println!("Stripe stand-in on {} delivering signed events to {base}/stripe/webhook", stripe.base_url());
    println!("Reconciler: runs every minute here (ReconcileSchedule in AWS), its report in the log");
    println!("Events: {outbox}; the newest, and the metrics counted since start, on {base}/local/events");
    println!("Automatic top-up: runs on the table's stream here, as in AWS (PATCH /billing/settings turns it on)\n");
    println!("Routes (from template.yaml):");
    for route in gateway.routes() {
        println!("  {:<6} {:<34} -> {}", route.method, route.path, route.binary);
    }
    println!("\nDemo org `{}` keys (shown once):", keys.org_id);
    println!("  HUMAN  {}", keys.human);
    println!("  AGENT  {}", keys.agent);
    println!("  ADMIN  {}", keys.admin);
    let auth = format!("-H 'Authorization: Bearer {}'", keys.human);
    println!("\nTry:");
    println!("  curl -s {base}/billing {auth}");
    println!("  curl -s {base}/billing/plans -H 'Authorization: Bearer {}'", keys.agent);
    println!("  curl -s {base}/billing            # no key: 401 envelope");
    println!(
        "  curl -s -X POST {base}/billing/checkout {auth} -H 'content-type: application/json' -d '{{\"plan\":\"pro\",\"interval\":\"month\"}}'"
    );
    println!("      then open the returned url and press Pay: the browser lands on a page saying what happened");
    println!("  curl -s -X POST {base}/billing/credits/checkout {auth} -H 'content-type: application/json' -d '{{\"quantity\":2}}'");
    println!("  curl -s -X POST {base}/billing/portal {auth}");
    println!("  curl -s {base}/billing/invoices {auth}");
    let agent = format!("-H 'Authorization: Bearer {}' -H 'content-type: application/json'", keys.agent);
    println!("\nAgent consent (after the Pay above, so the org has a subscription):");
    println!("  curl -s -X POST {base}/billing/upgrade {agent} -d '{{\"plan\":\"scale\",\"quantity\":3}}'");
    println!("      -> confirmation_required with a message and a confirm_token; nothing changed yet. Within 60 s:");
    println!("  curl -s -X POST {base}/billing/upgrade {agent} -d '{{\"plan\":\"scale\",\"quantity\":3,\"confirm_token\":\"<token>\"}}'");
    println!("\nAgent consent in web mode (a human approves on a page):");
    println!("  curl -s -X POST {base}/billing/upgrade {agent} -d '{{\"plan\":\"scale\",\"mode\":\"web\"}}'");
    println!("      -> web-approve-required: open approval_url in a browser, enter the HUMAN key, Approve or Deny; meanwhile poll:");
    println!("  curl -s {base}/billing/approvals/<approval_id> {agent}");
    println!("\nAn agent at its cap (the free plan allows one agent):");
    println!("  curl -s {base}/billing/limits/agents {agent}");
    println!(
        "  curl -s -X POST {base}/billing/usage/agents/reserve {agent} -H 'Idempotency-Key: new-agent-1'   # again with a new key: the 402 and its next step"
    );
    println!("  curl -s -X POST {base}/billing/request-limit-increase {agent} -d '{{\"kind\":\"agents\"}}'");
    println!("      -> what the operator sees (an ADMIN key; any other is 403):");
    println!("  curl -s '{base}/admin/limit-signals?kind=agents' -H 'Authorization: Bearer {}'", keys.admin);
    println!("\nMCP for AI agents (Streamable HTTP, stateless): URL {base}/mcp, header `Authorization: Bearer {}`", keys.agent);
    println!(
        "  curl -s -X POST {base}/mcp {agent} -H 'Accept: application/json, text/event-stream' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}}'"
    );
    println!("\nCtrl-C stops.");

    gateway::serve(gateway, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    println!("stopped");
    Ok(())
}
