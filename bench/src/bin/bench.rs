//! `bench`: seeds DynamoDB Local, measures the floor and every function of template.yaml, and
//! writes the report. Run through `scripts/bench`, which builds the binaries, starts DynamoDB
//! Local and sets the `BENCH_*` variables read here.

use std::path::PathBuf;

use billing_bench::measure::{Settings, measure, paired};
use billing_bench::outcome::{Row, Status};
use billing_bench::report::{self, Context};
use billing_bench::seed::{self, Error};
use billing_bench::stripe;
use billing_bench::targets::{FLOOR, METRICS_FLOOR, Plan, function_globals, publisher_batch_size, targets};
use billing_shared::config::aws_sdk_config;
use billing_shared::domain::catalog::Catalog;

fn env(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set: run scripts/bench").into())
}

fn count(name: &str, default: usize) -> Result<usize, Error> {
    std::env::var(name).map_or(Ok(default), |v| v.parse().map_err(|_| format!("{name}=`{v}` is not a count").into()))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let load_before = report::load_average();
    let bin_dir = PathBuf::from(env("BENCH_BIN_DIR")?);
    let lambda_dir = PathBuf::from(env("BENCH_LAMBDA_DIR")?);
    let out = PathBuf::from(env("BENCH_OUT")?);
    let dynamodb = env("AWS_ENDPOINT_URL_DYNAMODB")?.parse()?;
    let standin = stripe::start(&Catalog::built_in()?).await?;
    let fixture = seed::seed(&aws_sdk_config().await, &standin).await?;
    let (memory_mb, timeout) = function_globals()?;
    let settings = Settings {
        dynamodb,
        stripe: standin.base_url().parse()?,
        table: fixture.table.clone(),
        memory_mb,
        timeout,
        log_dir: PathBuf::from(env("BENCH_LOG_DIR")?),
        // A cold start median of 15 moved by a fifth between runs of unchanged code; these
        // counts cost seconds, the builds before them minutes.
        cold_starts: count("BENCH_COLD_STARTS", 40)?,
        warm_invocations: count("BENCH_WARM_INVOCATIONS", 2000)?,
    };
    let targets = targets(&fixture, &bin_dir)?;

    let plans: Vec<(&str, &Plan)> = targets.iter().filter_map(|t| Some((t.binary.as_str(), t.plan.as_ref().ok()?))).collect();
    let names: Vec<&str> = plans.iter().map(|(name, _)| *name).collect();
    eprintln!(
        "bench: {} warm requests, then {} cold starts, each for {}",
        settings.warm_invocations,
        settings.cold_starts,
        names.join(", ")
    );
    let started = std::time::Instant::now();
    let mut results = measure(&plans, &settings).await.into_iter();
    let paired_invocations = count("BENCH_PAIRED_INVOCATIONS", 5000)?;
    let plan_of = |name: &str| plans.iter().find(|(binary, _)| *binary == name).copied();
    let metrics_pair = match (plan_of(FLOOR), plan_of(METRICS_FLOOR)) {
        (Some(floor), Some(metered)) => {
            eprintln!("bench: {paired_invocations} warm requests each, alternating, for {FLOOR} and {METRICS_FLOOR}");
            // Its own logs: the round's give the bytes per invocation.
            let log_dir = settings.log_dir.join("paired");
            std::fs::create_dir_all(&log_dir)?;
            paired(floor, metered, paired_invocations, &Settings { log_dir, ..settings.clone() }).await
        }
        _ => Err(format!("{FLOOR} or {METRICS_FLOOR} could not be run")),
    };
    let took = started.elapsed();

    let rows: Vec<Row> = targets
        .into_iter()
        .map(|target| {
            let status = match target.plan {
                Err(reason) => Status::NotMeasured(reason),
                Ok(_) => match results.next() {
                    Some(Ok(figures)) => Status::Measured(figures),
                    Some(Err(error)) => Status::Failed(error),
                    None => Status::Failed("no result".into()),
                },
            };
            let function = target.binary.split(':').next().unwrap_or_default();
            let arm64_bytes = std::fs::metadata(lambda_dir.join(function).join("bootstrap")).ok().map(|m| m.len());
            let log_bytes_per_invocation = match &status {
                // The first request, the warm ones and one per cold start.
                Status::Measured(figures) => std::fs::metadata(settings.log_dir.join(format!("{}.log", target.binary)))
                    .ok()
                    .map(|m| m.len() as f64 / (1 + figures.warm.len() + figures.cold.len()) as f64),
                _ => None,
            };
            Row {
                binary: target.binary,
                request: target.request,
                dynamo_budget: target.dynamo_budget,
                status,
                arm64_bytes,
                log_bytes_per_invocation,
            }
        })
        .collect();
    let context = Context {
        date: env("BENCH_DATE")?,
        commit: env("BENCH_COMMIT")?,
        toolchain: env("BENCH_TOOLCHAIN")?,
        cold_starts: settings.cold_starts,
        warm_invocations: settings.warm_invocations,
        load_before,
        memory_mb,
        publisher_batch: publisher_batch_size()?,
        metrics_pair,
    };
    std::fs::write(&out, report::render(&context, &rows))?;
    eprintln!("bench: measured in {:.0} s, wrote {}", took.as_secs_f64(), out.display());
    Ok(())
}
