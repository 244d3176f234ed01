//! BENCHMARKS.md: the machine, the method, a summary, then one table per metric (floor first)
//! with the ratios to the floor and a pass / fail against each of the brief's targets.

use std::fmt::Write;
use std::time::Duration;

use crate::cost;
use crate::measure::Figures;
use crate::outcome::{Row, Status, verdict};
use crate::proxy::Counts;
use crate::stats::percentile;
use crate::targets::{FLOOR, PUBLISHER, REFERENCES, is_floor};

mod details;

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
    /// template.yaml's `MemorySize` of the functions, which Lambda bills by.
    pub memory_mb: u64,
    /// Records per stream batch of the events publisher.
    pub publisher_batch: usize,
    /// Warm latencies of the floor and of `floor-metrics`, alternating alone, or why not.
    pub metrics_pair: Result<[Vec<Duration>; 2], String>,
}

/// The 1-minute load average, as /proc/loadavg has it.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("?").to_string()
}

/// CPU model, cores, memory.
fn machine() -> (String, usize, String) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map_or("unknown CPU", |v| v.trim_start_matches([' ', '\t', ':']));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")?.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    (cpu.to_string(), cores, kib.map_or("unknown".into(), |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0)))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn times(ratio: Option<f64>) -> String {
    ratio.map_or("n/a".into(), |r| format!("{r:.2}x"))
}

/// Calls per warm request, by operation.
fn per_request(warm_calls: &Counts, requests: usize) -> Vec<(String, f64)> {
    let n = requests.max(1) as f64;
    warm_calls.iter().map(|(op, calls)| (op.clone(), *calls as f64 / n)).collect()
}

/// Calls made by init and the first request beyond what a warm request makes.
fn extra_at_cold_start(first_calls: &Counts, warm_calls: &Counts, requests: usize) -> Vec<(String, u64)> {
    let warm = per_request(warm_calls, requests);
    first_calls
        .iter()
        .map(|(op, n)| (op.clone(), n.saturating_sub(warm.iter().find(|(o, _)| o == op).map_or(0, |(_, r)| r.round() as u64))))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn list_calls<T: std::fmt::Display>(calls: impl IntoIterator<Item = (String, T)>) -> String {
    let parts: Vec<String> = calls.into_iter().map(|(op, n)| format!("`{op}` {n}")).collect();
    if parts.is_empty() { "none".into() } else { parts.join(", ") }
}

/// One dependency's row cells: calls per warm request, by operation, extra at cold start.
fn call_cells(first_calls: &Counts, warm_calls: &Counts, requests: usize) -> (f64, String, String) {
    let per = per_request(warm_calls, requests);
    let total = per.iter().fold(0.0, |sum, (_, r)| sum + r);
    let by_op = list_calls(per.into_iter().map(|(op, r)| (op, format!("{r:.2}"))));
    (total, by_op, list_calls(extra_at_cold_start(first_calls, warm_calls, requests)))
}

/// A measured function's figures, and how they compare with the floor's and the targets.
struct Line<'a> {
    row: &'a Row,
    figures: &'a Figures,
    cold_median: Duration,
    cold_p90: Duration,
    warm_p50: Duration,
    warm_p99: Duration,
    dynamodb_per_request: f64,
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
            dynamodb_per_request: per_request(&figures.warm_calls.dynamodb, figures.warm.len()).iter().fold(0.0, |sum, (_, r)| sum + r),
        })
    }

    fn is_floor(&self) -> bool {
        self.row.binary == FLOOR
    }

    /// DynamoDB calls per warm request, by operation, as the tables show them.
    fn dynamodb_calls(&self) -> String {
        call_cells(&self.figures.first_calls.dynamodb, &self.figures.warm_calls.dynamodb, self.figures.warm.len()).1
    }

    fn dynamodb_pass(&self) -> Option<bool> {
        self.row.dynamo_budget.map(|max| self.dynamodb_per_request <= max as f64)
    }
}

/// A figure over the floor's: `(ratio, pass)`; the floor and its references are not judged
/// (`pass` None).
fn compare(line: &Line, floor: Option<&Line>, figure: impl Fn(&Line) -> f64, limit: f64) -> (Option<f64>, Option<bool>) {
    if line.is_floor() {
        return (Some(1.0), None);
    }
    let ratio = floor.map(&figure).filter(|f| *f > 0.0).map(|f| figure(line) / f);
    (ratio, judged(&line.row.binary).then(|| ratio.is_some_and(|r| r <= limit)))
}

/// Held to the floor's targets: every function but the floor, its references and the publisher,
/// whose request is a stream batch put on the bus (see "The events publisher"), not one read.
fn judged(binary: &str) -> bool {
    !is_floor(binary) && binary != PUBLISHER
}

fn target_cell(pass: Option<bool>, target: &str, binary: &str) -> String {
    match pass {
        Some(pass) => format!("{target}: {}", verdict(pass)),
        None if binary == FLOOR => "baseline".into(),
        None if binary == PUBLISHER => "a stream batch: not judged".into(),
        None => "reference".into(),
    }
}

fn cold(l: &Line) -> f64 {
    l.cold_median.as_secs_f64()
}

fn warm(l: &Line) -> f64 {
    l.warm_p99.as_secs_f64()
}

fn rss(l: &Line) -> f64 {
    l.figures.peak_rss_kib as f64
}

fn size_pass(row: &Row) -> Option<bool> {
    (!is_floor(&row.binary)).then(|| row.arm64_bytes.is_some_and(|b| b <= MAX_BINARY_BYTES))
}

/// Each function whose DynamoDB calls per warm request are exactly a reference's, against that
/// reference: what the function costs beyond the calls it has to make.
fn against_references(lines: &[Line]) -> String {
    let mut table = String::new();
    for (name, ..) in REFERENCES {
        let Some(reference) = lines.iter().find(|l| l.row.binary == name) else { continue };
        let calls = reference.dynamodb_calls();
        for line in lines.iter().filter(|l| !is_floor(&l.row.binary) && l.dynamodb_calls() == calls) {
            let ratio = |figure: fn(&Line) -> f64| {
                let r = figure(line) / figure(reference).max(f64::MIN_POSITIVE);
                format!("{r:.2}x ({})", if r <= WARM_RATIO { "within 1.3x" } else { "over 1.3x" })
            };
            let _ = writeln!(table, "| {} | {calls} | {name} | {} | {} |", line.row.binary, ratio(cold), ratio(warm));
        }
    }
    if table.is_empty() {
        return "No function makes exactly a reference's calls.\n".into();
    }
    format!(
        "| function | DynamoDB calls / request | reference | cold start median / reference | warm p99 / reference |\n|---|---|---|---|---|\n{table}"
    )
}

/// Every target a function misses, one line each.
fn misses(rows: &[Row], lines: &[Line], floor: Option<&Line>) -> Vec<String> {
    let mut misses = Vec::new();
    for line in lines {
        let name = &line.row.binary;
        for (what, figure, limit) in
            [("cold start median", cold as fn(&Line) -> f64, COLD_RATIO), ("warm p99", warm, WARM_RATIO), ("peak RSS", rss, RSS_RATIO)]
        {
            if let (ratio, Some(false)) = compare(line, floor, figure, limit) {
                misses.push(format!("{name}: {what} {} the floor's (target <= {limit}x)", times(ratio)));
            }
        }
        if line.dynamodb_pass() == Some(false) {
            let max = line.row.dynamo_budget.unwrap_or_default();
            misses.push(format!("{name}: {:.2} DynamoDB calls per request (target <= {max})", line.dynamodb_per_request));
        }
    }
    for row in rows {
        if let Status::Failed(_) = row.status {
            misses.push(format!("{}: the measurement failed (see below)", row.binary));
        }
        if size_pass(row) == Some(false) {
            misses.push(format!("{}: arm64 binary {} (target <= 8 MB)", row.binary, row.arm64_bytes.map_or("not built".into(), mb)));
        }
    }
    misses
}

fn summary_table(rows: &[Row], lines: &[Line], floor: Option<&Line>) -> String {
    let mut table = String::new();
    for row in rows {
        let name = &row.binary;
        let size = row.arm64_bytes.map_or("not built".into(), mb);
        let size = if is_floor(name) && name != FLOOR { "-".into() } else { size };
        let size = format!("{size} {}", size_pass(row).map_or("", verdict)).trim_end().to_string();
        let Some(line) = lines.iter().find(|l| l.row.binary == *name) else {
            let status = if let Status::Failed(_) = row.status { "failed" } else { "not measured" };
            let _ = writeln!(table, "| {name} | {status} | | | | {size} |");
            continue;
        };
        let cell = |value: String, figure: fn(&Line) -> f64, limit: f64| {
            let (ratio, pass) = compare(line, floor, figure, limit);
            format!("{value} ({}) {}", times(ratio), pass.map_or("", verdict)).trim_end().to_string()
        };
        let dynamodb = format!("{:.2} {}", line.dynamodb_per_request, line.dynamodb_pass().map_or("", verdict)).trim_end().to_string();
        let _ = writeln!(
            table,
            "| {name} | {} | {} | {} | {dynamodb} | {size} |",
            cell(ms(line.cold_median), cold, COLD_RATIO),
            cell(ms(line.warm_p99), warm, WARM_RATIO),
            cell(format!("{:.1} MiB", rss(line) / 1024.0), rss, RSS_RATIO),
        );
    }
    table
}

pub fn render(context: &Context, rows: &[Row]) -> String {
    let lines: Vec<Line> = rows.iter().filter_map(Line::new).collect();
    let floor = lines.iter().find(|l| l.is_floor());
    let (cpu, cores, memory) = machine();

    let misses = misses(rows, &lines, floor);
    let functions = rows.iter().filter(|r| !is_floor(&r.binary)).count();
    let verdict_text = if misses.is_empty() {
        format!("**Every one of the {functions} functions meets every target.**\n")
    } else {
        let list: String = misses.iter().map(|m| format!("- {m}\n")).collect();
        format!("**{} target(s) missed:**\n\n{list}", misses.len())
    };
    let summary = summary_table(rows, &lines, floor);
    let metrics_overhead = cost::metrics_overhead(rows, &context.metrics_pair);
    let route_costs = cost::route_costs(rows, context.memory_mb, "authorizer");
    let publisher_cost = cost::publisher_cost(rows, context.memory_mb, context.publisher_batch);
    let references = against_references(&lines);

    let details::Tables { requests, cold_table, warm_table, rss_table, dynamodb_table, stripe_table, size_table, unmeasured } =
        details::tables(rows, &lines, floor);

    format!(
        r#"# Benchmarks

Measured {date} UTC at commit {commit}.

Written by `scripts/bench`, which rewrites this file: run it again rather than editing it. The
targets are the brief's "Performance targets": every function within 1.3x the floor's cold start
and warm p99 and within 2x its peak RSS, each arm64 binary at most 8 MB (8,000,000 bytes), at most
one DynamoDB round trip for `GET /billing`, `GET /billing/limits[/{{resource}}]`, a reservation
(`POST /billing/usage/{{resource}}/reserve`), a cap check through MCP, a page of the activity history
(`GET /billing/activity`) and the authorizer. The events publisher is shown
but not judged against the floor: its request is a stream batch put on the bus, not one read.
`credits-spend:agent` is the same spend asked by an AGENT key whose mandate bounds its spends per
day: beside `credits-spend`, what the mandate's check and draw add (the mandate is read in the
org's BatchGetItem, and drawn in the spend's transaction).

{verdict_text}
## Summary

Figures with their ratio to the floor. Details, and what each function was asked, below.

| function | cold start (median) | warm p99 | peak RSS | DynamoDB calls / request | arm64 binary |
|---|---|---|---|---|---|
{summary}
## Against the floor making the same calls

The brief's floor makes one GetItem. A function that must write makes other calls, and on
DynamoDB Local a write costs more than a read. The references are the floor's code making a
writing function's calls (`floor-write`: one conditional UpdateItem; `floor-transact`: a GetItem,
then a two-item TransactWriteItems; `floor-batch-transact`: a BatchGetItem of two items, then a
three-item TransactWriteItems, as an AGENT's spend drawn from its mandate). Each function whose DynamoDB calls per warm request are
exactly a reference's is compared with it here, which shows what the function costs beyond the
calls it makes. These comparisons are information: the brief's targets are the ones above.

{references}
## What metrics cost

Every function installs the EMF collector and records metrics on each request. `floor-metrics` is
the floor with exactly that added (`bench/src/bin/floor_metrics.rs`: the collector installed as
the functions install it, the invocation's properties, the principal and `requests` by status).
Its calls and log bytes come from the round over every function; its latency from a run of the
floor and `floor-metrics` alone, alternating request by request (ABBA), because the difference
is a few percent and a busy moment during the round falls on some targets and not others.
Metrics make no DynamoDB call: the documents go to stdout, and Lambda's log stream turns them into
CloudWatch metrics.

{metrics_overhead}
## Cost per route

Dollars per million requests at us-east-1 list prices: HTTP API $1.00 per million requests;
Lambda arm64 $0.20 per million requests plus $0.0000133334 per GB-second, billed in whole
milliseconds at template.yaml's {memory_mb} MB, taken from the warm median above; DynamoDB
on-demand $0.125 per million read and $0.625 per million write request units; CloudWatch Logs
$0.50 per GiB ingested, from the bytes each function wrote per invocation here (Lambda's own
START / END / REPORT lines, about 300 bytes, are not included). Authorized routes also pay for the
authorizer's invocation: HTTP API does not cache its answers in this template.

Capacity units are measured: the counting proxy asks DynamoDB Local for `ReturnConsumedCapacity`
on every call. For `TransactWriteItems`, where DynamoDB Local reports more than AWS bills, the
proxy applies AWS's rule (2 write units per started KB of each item) to the items as written.
The durations are this machine's (x86_64, full cores); at 128 MB Lambda gives a function about a
fourteenth of a vCPU, so the CPU part of a request takes longer there. The Stripe calls cost
nothing on AWS's bill; the CloudWatch metrics themselves are billed per metric and month, not
per request.

{route_costs}
## The events publisher

The table's stream hands the publisher batches of {publisher_batch} activity records
(template.yaml's `BatchSize`); it puts them on the bus, here moto's EventBridge (`PutEvents` of 10
entries, in order). Lambda's reads of a DynamoDB stream are free. The event record itself is
written in the transaction of the change it reports, so its write units are in that route's
figure above. Moto answers `PutEvents` locally; EventBridge's own latency would replace it.

{publisher_cost}
## Machine

| | |
|---|---|
| CPU | {cpu}, {cores} cores |
| Memory | {memory} |
| Load average (1 min) before / after the run | {load_before} / {load_after} |
| Toolchain | {toolchain} |

The machine is shared: other builds may run during the measurement. Both phases interleave the
targets round-robin, so such load weighs on the floor and on each function alike; the ratios are
the figures to read, the absolute times less so, and a p99 moves more between runs than a median.

## Method

- **Binaries.** Timings use host (x86_64) release builds with the workspace's release profile
  (`opt-level = "z"`, fat LTO, one codegen unit, `panic = "abort"`, stripped), the profile
  cargo-lambda applies too. Sizes are of the arm64 release binaries built with
  `cargo lambda build --release --arm64`, as deployed.
- **The floor** (`bench/floor`): a bare Lambda, lambda_http + aws-sdk-dynamodb of the
  workspace's versions, one GetItem per request (of the org item `GET /billing` reads). Its
  references `floor-write` and `floor-transact` are the same binary making other calls
  (`FLOOR_CALLS`), on the same item.
- **Runtime.** Each process gets a Lambda Runtime API emulator of its own (`bench/src/emulator.rs`)
  and Lambda's environment (`AWS_LAMBDA_RUNTIME_API`, function name, template.yaml's memory size,
  version, log group and stream; each event's deadline is the template's timeout away) plus the
  project's: `BILLING_TABLE`, `RUST_LOG=info`, the redirect settings of template.yaml's Globals,
  `STRIPE_API_BASE`, dummy AWS credentials and region, and the Stripe key and webhook secret in
  `STRIPE_SECRET_KEY` / `STRIPE_WEBHOOK_SECRETS`, the local form. In AWS the Stripe functions read
  those from Secrets Manager at cold start: a round trip not included here.
- **Data.** DynamoDB Local with the table created from template.yaml; the offline Stripe stand-in
  (`infra/stripe-standin`, run in the harness) selling the catalog's prices. Seeded through the
  project's own code: one org with a HUMAN API key, its open subscription Checkout (so it has a
  Stripe customer) and a paid credits Checkout, whose signed `checkout.session.completed` is the
  webhook's request. Every answer is checked: the authorizer must authorize the org, routes must
  answer 200, the `$default` route 404. The same request repeats, so where a function recognises
  a repeat (Checkout hands back the org's open session, the webhook sees a processed event id) the
  warm requests measure that path and the first one the full path. DynamoDB Local (a JVM) serves
  500 reads before the measurement.
- **Cold start**: process spawn to the first response fully received by the emulator, over
  {cold_starts} fresh processes per function (rounds in rotating order). The binary is in the page
  cache; Lambda's own sandbox setup and code download are not part of it.
- **Warm latency**: one process per function, {warm_invocations} sequential requests after the
  first, each from the emulator handing the event out to receiving the response.
- **DynamoDB and Stripe calls**: each process reaches DynamoDB Local and the Stripe stand-in through
  counting proxies of its own (`bench/src/proxy.rs`): DynamoDB counted by `X-Amz-Target`, Stripe by
  method and path. Per warm request, and apart from that what init and the first request made on top.
- **Peak RSS**: VmHWM from /proc/<pid>/status after the warm requests, just before the process is
  stopped.

## Requests

| function | request |
|---|---|
{requests}
## Cold start

| function | median | p90 | min | max | median / floor | p90 / floor | target |
|---|---|---|---|---|---|---|---|
{cold_table}
## Warm latency

| function | p50 | p99 | max | p50 / floor | p99 / floor | target |
|---|---|---|---|---|---|---|
{warm_table}
## DynamoDB calls

| function | per warm request | by operation | extra at cold start | target |
|---|---|---|---|---|
{dynamodb_table}
## Stripe calls

| function | per warm request | by operation | extra at cold start |
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
        memory_mb = context.memory_mb,
        publisher_batch = context.publisher_batch,
        warm_invocations = context.warm_invocations,
    )
}
