//! `reconcile-bench`: one reconciler run over 1,000 orgs with 10 stuck intents and about 100
//! missed events, on DynamoDB Local and the Stripe stand-in, then a second run; writes the
//! figures as markdown to `BENCH_RECONCILE_OUT` (default `BENCHMARKS-reconciler.md` in the
//! current directory) and prints them. Run through `scripts/bench-reconciler`, or by hand with
//! DynamoDB Local at `AWS_ENDPOINT_URL_DYNAMODB` (and the dummy AWS credentials and region).

use std::path::PathBuf;

use billing_bench::reconcile::{Bench, Context, Scale, markdown, utc_now};
use billing_bench::seed::Error;
use billing_bench::stripe;
use billing_shared::config::aws_sdk_config;
use billing_shared::domain::catalog::Catalog;

/// The machine, as the report names it: cores and CPU model.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or_else(|_| "?".to_string(), |n| n.to_string());
    let model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
        info.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_string())
    });
    match model {
        Some(model) => format!("a {cores}-core machine ({model}, shared)"),
        None => format!("a {cores}-core machine (shared)"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dynamodb = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .map_err(|_| "AWS_ENDPOINT_URL_DYNAMODB is not set: run scripts/bench-reconciler, or point it at DynamoDB Local")?
        .parse()?;
    let out = PathBuf::from(std::env::var("BENCH_RECONCILE_OUT").unwrap_or_else(|_| "BENCHMARKS-reconciler.md".to_string()));
    let standin = stripe::start(&Catalog::built_in()?).await?;
    let scale = Scale::default();
    eprintln!(
        "reconcile-bench: seeding {} orgs, {} stuck intents, {}+ missed events",
        scale.orgs, scale.stuck_intents, scale.missed_events
    );
    let bench = Bench::seed(&dynamodb, &aws_sdk_config().await, standin, scale).await?;
    eprintln!(
        "reconcile-bench: seeded table {} in {:.1} s ({} events listed, {} never delivered); running the reconciler twice",
        bench.table,
        bench.seed_time.as_secs_f64(),
        bench.events_listed,
        bench.events_missed
    );
    let mut runs = Vec::new();
    for _ in 0..2 {
        runs.push(bench.run_once().await?);
    }
    let context = Context {
        date: std::env::var("BENCH_DATE").map_or_else(|_| utc_now(), |d| format!("{d} UTC")),
        commit: std::env::var("BENCH_COMMIT").ok().filter(|c| !c.is_empty()),
        machine: machine(),
    };
    let report = markdown(&bench, &runs, &context);
    std::fs::write(&out, &report).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("{report}");
    eprintln!("reconcile-bench: wrote {}", out.display());
    Ok(())
}
