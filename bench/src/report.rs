//! BENCHMARKS.md: the machine, the method, one table per metric (floor first), the ratios to
//! the floor and a pass / fail against each of the brief's targets.

use std::fmt::Write;
use std::time::Duration;

use crate::measure::Figures;
use crate::proxy::Counts;
use crate::stats::percentile;
use crate::targets::FLOOR;

const COLD_RATIO: f64 = 1.3;
const WARM_RATIO: f64 = 1.3;
const RSS_RATIO: f64 = 2.0;
const MAX_BINARY_BYTES: u64 = 8_000_000;

/// What the run was, for the header.
pub struct Context {
    pub date: String,
    pub commit: String,
    pub toolchain: String,
    pub cold_starts: usize,
    pub warm_invocations: usize,
    pub load_before: String,
}

pub enum Status {
    Measured(Figures),
    Failed(String),
    NotMeasured(String),
}

pub struct Row {
    pub binary: String,
    pub request: String,
    pub dynamo_budget: Option<u64>,
    pub status: Status,
    /// The arm64 release binary's size, if it was built.
    pub arm64_bytes: Option<u64>,
}

/// The 1-minute load average, as /proc/loadavg has it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").ok().and_then(|l| l.split_whitespace().next().map(str::to_string)).unwrap_or_else(|| "?".into())
}

fn machine() -> (String, usize, String) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find_map(|l| l.strip_prefix("MemTotal:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())))
        .map_or_else(|| "unknown".into(), |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0));
    (cpu, cores, memory)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn verdict(pass: bool) -> &'static str {
    if pass { "pass" } else { "**FAIL**" }
}

/// Calls per warm request, by operation.
fn per_request(warm_calls: &Counts, requests: usize) -> Vec<(String, f64)> {
    let n = requests.max(1) as f64;
    warm_calls.iter().map(|(op, calls)| (op.clone(), *calls as f64 / n)).collect()
}

/// Calls made by init and the first request beyond what a warm request makes.
fn cold_only(first_calls: &Counts, warm_calls: &Counts, requests: usize) -> Counts {
    let warm = per_request(warm_calls, requests);
    first_calls
        .iter()
        .map(|(op, n)| {
            let usual = warm.iter().find(|(o, _)| o == op).map_or(0, |(_, r)| r.round() as u64);
            (op.clone(), n.saturating_sub(usual))
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn list_calls<T: std::fmt::Display>(calls: impl IntoIterator<Item = (String, T)>) -> String {
    let parts: Vec<String> = calls.into_iter().map(|(op, n)| format!("`{op}` {n}")).collect();
    if parts.is_empty() { "none".into() } else { parts.join(", ") }
}

/// The cells of one dependency's calls: total per warm request, by operation, cold-start only.
fn call_cells(first_calls: &Counts, warm_calls: &Counts, requests: usize) -> (f64, String, String) {
    let per = per_request(warm_calls, requests);
    let total = per.iter().fold(0.0, |sum, (_, r)| sum + r);
    let by_op = list_calls(per.into_iter().map(|(op, r)| (op, format!("{r:.2}"))));
    (total, by_op, list_calls(cold_only(first_calls, warm_calls, requests)))
}

/// Everything the tables need of one measured function.
struct Line<'a> {
    row: &'a Row,
    figures: &'a Figures,
    cold_median: Duration,
    cold_p90: Duration,
    warm_p50: Duration,
    warm_p99: Duration,
}

impl<'a> Line<'a> {
    fn new(row: &'a Row) -> Option<Self> {
        let Status::Measured(figures) = &row.status else { return None };
        Some(Self {
            row,
            figures,
            cold_median: percentile(&figures.cold, 50.0),
            cold_p90: percentile(&figures.cold, 90.0),
            warm_p50: percentile(&figures.warm, 50.0),
            warm_p99: percentile(&figures.warm, 99.0),
        })
    }

    fn is_floor(&self) -> bool {
        self.row.binary == FLOOR
    }
}

fn ratio(value: f64, floor: Option<f64>) -> Option<f64> {
    floor.filter(|f| *f > 0.0).map(|f| value / f)
}

/// The ratio cell and the target cell: the floor is the baseline, the others pass at <= `limit`.
fn against_floor(line: &Line, ratio: Option<f64>, limit: f64) -> (String, String, Option<bool>) {
    match ratio {
        _ if line.is_floor() => ("1.00x".into(), "baseline".into(), None),
        Some(r) => (format!("{r:.2}x"), format!("<= {limit}x: {}", verdict(r <= limit)), Some(r <= limit)),
        None => ("n/a (no floor figure)".into(), "**FAIL**: nothing to compare with".into(), Some(false)),
    }
}

pub fn render(context: &Context, rows: &[Row]) -> String {
    let lines: Vec<Line> = rows.iter().filter_map(Line::new).collect();
    let floor = lines.iter().find(|l| l.is_floor());
    let floor_cold = floor.map(|f| f.cold_median.as_secs_f64());
    let floor_warm = floor.map(|f| f.warm_p99.as_secs_f64());
    let floor_rss = floor.map(|f| f.figures.peak_rss_kib as f64);
    let (cpu, cores, memory) = machine();
    let mut failures: Vec<String> = Vec::new();
    let mut cold_table = String::new();
    let mut warm_table = String::new();
    let mut dynamo_table = String::new();
    let mut stripe_table = String::new();
    let mut rss_table = String::new();

    for line in &lines {
        let name = &line.row.binary;
        let (r, target, pass) = against_floor(line, ratio(line.cold_median.as_secs_f64(), floor_cold), COLD_RATIO);
        let p90_ratio = ratio(line.cold_p90.as_secs_f64(), floor.map(|f| f.cold_p90.as_secs_f64())).map_or("n/a".into(), |r| format!("{r:.2}x"));
        let (min, max) = (line.figures.cold.iter().min().copied().unwrap_or_default(), line.figures.cold.iter().max().copied().unwrap_or_default());
        let _ = writeln!(cold_table, "| {name} | {} | {} | {} | {} | {r} | {p90_ratio} | {target} |", ms(line.cold_median), ms(line.cold_p90), ms(min), ms(max));
        if pass == Some(false) {
            failures.push(format!("{name}: cold start median {r} the floor's (target <= {COLD_RATIO}x)"));
        }

        let (r, target, pass) = against_floor(line, ratio(line.warm_p99.as_secs_f64(), floor_warm), WARM_RATIO);
        let max = line.figures.warm.iter().max().copied().unwrap_or_default();
        let _ = writeln!(warm_table, "| {name} | {} | {} | {} | {r} | {target} |", ms(line.warm_p50), ms(line.warm_p99), ms(max));
        if pass == Some(false) {
            failures.push(format!("{name}: warm p99 {r} the floor's (target <= {WARM_RATIO}x)"));
        }

        let (first, warm, n) = (&line.figures.first_calls, &line.figures.warm_calls, line.figures.warm.len());
        let (total, by_op, cold) = call_cells(&first.dynamodb, &warm.dynamodb, n);
        let budget = match line.row.dynamo_budget {
            Some(max) if total <= max as f64 => format!("<= {max}: pass"),
            Some(max) => {
                failures.push(format!("{name}: {total:.2} DynamoDB calls per request (at most {max})"));
                format!("<= {max}: **FAIL**")
            }
            None => "-".into(),
        };
        let _ = writeln!(dynamo_table, "| {name} | {total:.2} | {by_op} | {cold} | {budget} |");
        let (total, by_op, cold) = call_cells(&first.stripe, &warm.stripe, n);
        let _ = writeln!(stripe_table, "| {name} | {total:.2} | {by_op} | {cold} |");

        let (r, target, pass) = against_floor(line, ratio(line.figures.peak_rss_kib as f64, floor_rss), RSS_RATIO);
        let _ = writeln!(rss_table, "| {name} | {} ({} KiB) | {r} | {target} |", mib(line.figures.peak_rss_kib), line.figures.peak_rss_kib);
        if pass == Some(false) {
            failures.push(format!("{name}: peak RSS {r} the floor's (target <= {RSS_RATIO}x)"));
        }
    }

    let mut size_table = String::new();
    for row in rows {
        let (size, target) = match row.arm64_bytes {
            Some(bytes) if row.binary == FLOOR => (format!("{} ({bytes} bytes)", mb(bytes)), "-".to_string()),
            Some(bytes) => {
                if bytes > MAX_BINARY_BYTES {
                    failures.push(format!("{}: arm64 binary {} (target <= 8 MB)", row.binary, mb(bytes)));
                }
                (format!("{} ({bytes} bytes)", mb(bytes)), format!("<= 8 MB: {}", verdict(bytes <= MAX_BINARY_BYTES)))
            }
            None => {
                failures.push(format!("{}: no arm64 binary", row.binary));
                ("not built".to_string(), "**FAIL**".to_string())
            }
        };
        let _ = writeln!(size_table, "| {} | {size} | {target} |", row.binary);
    }

    let mut unmeasured = String::new();
    for row in rows {
        match &row.status {
            Status::Measured(_) => {}
            Status::Failed(error) => {
                failures.push(format!("{}: the measurement failed", row.binary));
                let _ = writeln!(unmeasured, "| {} | {} | failed: {} |", row.binary, row.request, error.replace('|', "\\|"));
            }
            Status::NotMeasured(reason) => {
                let _ = writeln!(unmeasured, "| {} | {} | not measured: {} |", row.binary, row.request, reason.replace('|', "\\|"));
            }
        }
    }

    let mut requests = String::new();
    for row in rows {
        let _ = writeln!(requests, "| {} | {} |", row.binary, row.request);
    }

    let functions = rows.iter().filter(|r| r.binary != FLOOR).count();
    let verdict_text = if failures.is_empty() {
        format!("**Every one of the {functions} functions meets every target.**")
    } else {
        let list: String = failures.iter().map(|f| format!("- {f}\n")).collect();
        format!("**{} target(s) missed:**\n\n{list}", failures.len())
    };
    let unmeasured = if unmeasured.is_empty() {
        "Every function of template.yaml was measured.\n".to_string()
    } else {
        format!("| function | request | status |\n|---|---|---|\n{unmeasured}")
    };

    format!(
        r#"# Benchmarks

Written by `scripts/bench` on {date} UTC at commit `{commit}`; do not edit by hand, run the
script again. The targets are the brief's "Performance targets" (every function within 1.3x the
floor's cold start and warm p99 and within 2x its peak RSS, arm64 binary at most 8 MB, at most one
DynamoDB round trip for `GET /billing` and the authorizer).

{verdict_text}

## Machine

| | |
|---|---|
| CPU | {cpu}, {cores} cores |
| Memory | {memory} |
| Load average (1 min) before / after the run | {load_before} / {load_after} |
| Toolchain | {toolchain} |

The machine is shared: other builds may run during the measurement. Every phase interleaves the
targets round-robin, so such load weighs on the floor and on each function alike; the ratios are
the figures to read, the absolute times less so.

## Method

- **Binaries.** Timings use host (x86_64) release builds with the workspace's release profile
  (`opt-level = "s"`, thin LTO, one codegen unit, `panic = "abort"`, stripped), the profile
  cargo-lambda also applies. Sizes are of the arm64 release binaries built by
  `cargo lambda build --release --arm64`, as deployed.
- **The floor** (`bench/src/bin/floor.rs`): a bare Lambda, lambda_http + aws-sdk-dynamodb of the
  workspace's versions, one GetItem per request (of the same org item `GET /billing` reads).
- **Runtime.** Each process gets its own Lambda Runtime API emulator (`bench/src/emulator.rs`) and
  Lambda's environment (`AWS_LAMBDA_RUNTIME_API`, function name, 128 MB, version, log group and
  stream) plus the project's: `BILLING_TABLE`, `RUST_LOG=info`, the redirect settings of
  template.yaml's Globals, `STRIPE_API_BASE`, dummy AWS credentials and region, and the Stripe key
  in `STRIPE_SECRET_KEY`, the local form. In AWS the Stripe functions fetch that key from Secrets
  Manager at cold start: one round trip their cold starts here do not include.
- **Data.** DynamoDB Local with the table created from template.yaml; the offline Stripe stand-in
  (`infra/stripe-standin`, run by the harness) selling the catalog's prices; one org with a Stripe
  customer and one HUMAN API key, created through the project's store and Stripe gateway. Every
  answer is checked: the authorizer must authorize the seeded org, routes must answer 200, the
  `$default` route 404. POST routes get a valid body (`SAMPLE_BODIES` in `bench/src/targets.rs`).
  The same request repeats, so a function that recognises a repeat (Checkout hands back the org's
  open session) answers the later ones that way. DynamoDB Local (a JVM) serves 500 reads first.
- **Cold start**: process spawn to the first response fully received by the emulator, over
  {cold_starts} fresh processes per function (rounds in rotating order). The binary is in the page
  cache; Lambda's own sandbox setup and code download are not part of it.
- **Warm latency**: one process per function, {warm_invocations} sequential requests after the first,
  each from the emulator handing the event out to receiving the response.
- **DynamoDB and Stripe calls**: each process talks to DynamoDB Local and to the Stripe stand-in
  through counting proxies of its own (`bench/src/proxy.rs`), DynamoDB counted by `X-Amz-Target`,
  Stripe by method and path; per warm request, and separately what init and the first request
  made beyond that.
- **Peak RSS**: VmHWM of /proc/<pid>/status after the warm requests, just before the process is stopped.

## Requests

| function | request |
|---|---|
{requests}
## Cold start

| function | median | p90 | min | max | median / floor | p90 / floor | target |
|---|---|---|---|---|---|---|---|
{cold_table}
## Warm latency

| function | p50 | p99 | max | p99 / floor | target |
|---|---|---|---|---|---|
{warm_table}
## DynamoDB calls

| function | per warm request | by operation | cold-start only | target |
|---|---|---|---|---|
{dynamo_table}
## Stripe calls

| function | per warm request | by operation | cold-start only |
|---|---|---|---|
{stripe_table}
## Peak RSS

| function | VmHWM | / floor | target |
|---|---|---|---|
{rss_table}
## Binary size (arm64 release, cargo-lambda)

| function | size | target |
|---|---|---|
{size_table}
## Not measured, or failed

{unmeasured}
## Reference figures from the brief

Not measured here; quoted from the design brief for scale:

> The floor is a bare Lambda binary (lambda_http + aws-sdk-dynamodb, one GetItem per request):
> on these machines about 15-19 ms from process start to first response, warm p99 a few ms,
> about 10 MB peak RSS. A Node.js Lambda doing the same with the Stripe and AWS SDKs took about
> 400-450 ms cold and 107 MB.
"#,
        date = context.date,
        commit = context.commit,
        load_before = context.load_before,
        load_after = load_average(),
        toolchain = context.toolchain,
        cold_starts = context.cold_starts,
        warm_invocations = context.warm_invocations,
    )
}
