//! `local-api`: creates the table from template.yaml in DynamoDB Local, seeds the demo org and
//! keys, and serves every route of template.yaml on 127.0.0.1 until Ctrl-C.
//! Started by `scripts/run-local`, which starts DynamoDB Local first.

use std::sync::Arc;

use billing_infra::gateway::{self, Gateway};
use billing_infra::seed::seed_demo;
use billing_infra::template::Template;
use billing_shared::{App, telemetry};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    telemetry::init();
    let app = App::from_env().await?;
    let table = app.store.table().to_string();
    let tables = app.store.client().list_tables().send().await?;
    if !tables.table_names().contains(&table) {
        Template::built_in().create_table(app.store.client(), &table).await?;
    }
    let keys = seed_demo(&app.store).await?;
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let gateway = Arc::new(Gateway::new(app)?);

    println!("\nBilling API listening on {base} (table `{table}` in DynamoDB Local)\n");
    println!("Routes (from template.yaml):");
    for route in gateway.routes() {
        println!("  {:<6} {:<28} -> {}", route.method, route.path, route.binary);
    }
    println!("\nDemo org `{}` keys (shown once):", keys.org_id);
    println!("  HUMAN  {}", keys.human);
    println!("  AGENT  {}", keys.agent);
    println!("\nTry:\n  curl -s {base}/billing -H 'Authorization: Bearer {}'", keys.human);
    println!("  curl -s {base}/billing/plans -H 'Authorization: Bearer {}'", keys.agent);
    println!("  curl -s {base}/billing            # no key: 401 envelope\n\nCtrl-C stops.");

    gateway::serve(gateway, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    println!("stopped");
    Ok(())
}
