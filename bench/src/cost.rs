//! What the measurements mean in money and overhead: what metrics add to a request (the floor
//! with and without them), dollars per million requests of each route at list prices, and
//! what the events publisher costs per 1,000 events. Sections of BENCHMARKS.md.

use std::fmt::Write;
use std::time::Duration;

use billing_functions::{ROUTES, Route};

use crate::capacity::READS;
use crate::measure::Figures;
use crate::outcome::{Row, Status, verdict};
use crate::stats::percentile;
use crate::targets::{FLOOR, METRICS_FLOOR, PUBLISHER};

/// List prices, us-east-1, in dollars.
pub mod price {
    /// Lambda on arm64, per GB-second of billed duration (billed in whole milliseconds).
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// API Gateway HTTP API, per request (the first 300 million a month).
    pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
    /// DynamoDB on-demand, per read and per write request unit.
    pub const READ_UNIT: f64 = 0.125 / 1e6;
    pub const WRITE_UNIT: f64 = 0.625 / 1e6;
    /// EventBridge, per custom event put (64 KB each).
    pub const EVENT: f64 = 1.00 / 1e6;
    /// CloudWatch Logs ingestion (standard class), per GiB.
    pub const LOG_GIB: f64 = 0.50;
}

/// Metrics may add at most this much to the floor's warm p99 (the operability issue's target).
const METRICS_P99_LIMIT: f64 = 1.05;

/// One measured target's figures per request.
pub struct PerRequest {
    pub warm_p50: Duration,
    pub warm_p99: Duration,
    pub dynamodb_calls: f64,
    pub read_units: f64,
    pub write_units: f64,
    pub log_bytes: f64,
}

impl PerRequest {
    pub fn of(row: &Row) -> Option<Self> {
        let Status::Measured(figures) = &row.status else { return None };
        Some(Self::from_figures(figures, row.log_bytes_per_invocation.unwrap_or(0.0)))
    }

    fn from_figures(figures: &Figures, log_bytes: f64) -> Self {
        let n = figures.warm.len().max(1) as f64;
        let units = &figures.warm_calls.dynamodb_units;
        // Folded from +0.0: an empty float sum is -0.0, which would print as "-0.00".
        let reads = units.iter().filter(|(op, _)| READS.contains(&op.as_str())).fold(0.0, |sum, (_, u)| sum + u);
        let writes = units.iter().filter(|(op, _)| !READS.contains(&op.as_str())).fold(0.0, |sum, (_, u)| sum + u);
        Self {
            warm_p50: percentile(&figures.warm, 50.0),
            warm_p99: percentile(&figures.warm, 99.0),
            dynamodb_calls: figures.warm_calls.dynamodb.values().sum::<u64>() as f64 / n,
            read_units: reads / n,
            write_units: writes / n,
            log_bytes,
        }
    }

    /// Whole milliseconds, as Lambda bills, of the warm median.
    fn billed_ms(&self) -> u64 {
        (self.warm_p50.as_secs_f64() * 1e3).ceil().max(1.0) as u64
    }

    /// One invocation: the request fee and the billed duration at `memory_mb`.
    fn lambda(&self, memory_mb: u64) -> f64 {
        price::LAMBDA_REQUEST + self.billed_ms() as f64 / 1e3 * memory_mb as f64 / 1024.0 * price::LAMBDA_GB_SECOND
    }

    fn dynamodb(&self) -> f64 {
        self.read_units * price::READ_UNIT + self.write_units * price::WRITE_UNIT
    }

    fn logs(&self) -> f64 {
        self.log_bytes / f64::from(1u32 << 30) * price::LOG_GIB
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn per_million(dollars: f64) -> String {
    format!("${:.2}", dollars * 1e6)
}

fn find<'a>(rows: &'a [Row], binary: &str) -> Option<(&'a Row, PerRequest)> {
    rows.iter().find(|r| r.binary == binary).and_then(|r| Some((r, PerRequest::of(r)?)))
}

/// The floor against the floor with metrics: calls and log bytes from the round over every
/// function; warm latency from the two alone, alternating (`pair`), where a few percent shows.
pub fn metrics_overhead(rows: &[Row], pair: &Result<[Vec<Duration>; 2], String>) -> String {
    let (Some((_, floor)), Some((_, metered))) = (find(rows, FLOOR), find(rows, METRICS_FLOOR)) else {
        return "Not measured: the floor or `floor-metrics` has no figures.\n".into();
    };
    let same_calls = (metered.dynamodb_calls - floor.dynamodb_calls).abs() < 1e-9;
    let mut table = format!(
        "| | floor | floor-metrics | ratio | target |\n|---|---|---|---|---|\n\
         | DynamoDB calls / request | {:.2} | {:.2} | | no extra call: {} |\n\
         | log bytes / invocation (EMF documents included) | {:.0} | {:.0} | | |\n",
        floor.dynamodb_calls,
        metered.dynamodb_calls,
        verdict(same_calls),
        floor.log_bytes,
        metered.log_bytes,
    );
    match pair {
        Ok([floor_warm, metered_warm]) => {
            let ratio = |p: f64| percentile(metered_warm, p).as_secs_f64() / percentile(floor_warm, p).as_secs_f64().max(f64::MIN_POSITIVE);
            let (p50, p99) = (ratio(50.0), ratio(99.0));
            let n = floor_warm.len();
            let _ = write!(
                table,
                "| warm p50 ({n} alternating requests each) | {} | {} | {p50:.3}x | |\n\
                 | warm p99 ({n} alternating requests each) | {} | {} | {p99:.3}x | < {METRICS_P99_LIMIT}x: {} |\n",
                ms(percentile(floor_warm, 50.0)),
                ms(percentile(metered_warm, 50.0)),
                ms(percentile(floor_warm, 99.0)),
                ms(percentile(metered_warm, 99.0)),
                verdict(p99 < METRICS_P99_LIMIT),
            );
        }
        Err(why) => {
            let _ = writeln!(table, "| warm p99 | | | | not measured: {} |", why.replace('|', "\\|"));
        }
    }
    table
}

fn route_key(route: &Route) -> String {
    format!("{} {}", route.method, route.path)
}

/// Dollars per million requests of each route: API Gateway, the function, the authorizer the
/// route runs first (HTTP API does not cache it here), their DynamoDB units and log bytes.
pub fn route_costs(rows: &[Row], memory_mb: u64, authorizer: &str) -> String {
    let auth = find(rows, authorizer).map(|(_, a)| a);
    let auth_cost = auth.as_ref().map(|a| a.lambda(memory_mb) + a.dynamodb() + a.logs());
    let mut table = String::new();
    for route in ROUTES {
        let Some((_, f)) = find(rows, route.binary) else {
            let _ = writeln!(table, "| `{}` | {} | not measured | | | | | | | |", route_key(route), route.binary);
            continue;
        };
        let authorizer = if route.authorized { auth_cost } else { Some(0.0) };
        let total = authorizer.map(|a| price::HTTP_API_REQUEST + f.lambda(memory_mb) + f.dynamodb() + f.logs() + a);
        let _ = writeln!(
            table,
            "| `{}` | {} | {} | {:.2} / {:.2} | {} | {} | {} | {} | {} | **{}** |",
            route_key(route),
            route.binary,
            f.billed_ms(),
            f.read_units,
            f.write_units,
            per_million(price::HTTP_API_REQUEST),
            per_million(f.lambda(memory_mb)),
            per_million(f.dynamodb()),
            per_million(f.logs()),
            authorizer.map_or("not measured".into(), per_million),
            total.map_or("-".into(), per_million),
        );
    }
    format!(
        "| route | function | billed ms | DynamoDB read / write units | HTTP API | Lambda | DynamoDB | logs | authorizer | total |\n\
         |---|---|---|---|---|---|---|---|---|---|\n{table}"
    )
}

/// The publisher per 1,000 events: its invocations (one per `batch` records), EventBridge's
/// fee per event and its logs. Lambda's reads of the stream are free.
pub fn publisher_cost(rows: &[Row], memory_mb: u64, batch: usize) -> String {
    let Some((_, p)) = find(rows, PUBLISHER) else {
        return "Not measured: the publisher has no figures (see \"Not measured, or failed\").\n".into();
    };
    let invocations = 1000.0 / batch.max(1) as f64;
    let lambda = invocations * p.lambda(memory_mb);
    let logs = invocations * p.logs();
    let events = 1000.0 * price::EVENT;
    format!(
        "| | per 1,000 events |\n|---|---|\n\
         | invocations ({batch} records each; a batch took {} at the median, {} at p99) | {invocations:.0} |\n\
         | Lambda (request fee and {} ms billed each) | ${lambda:.6} |\n\
         | EventBridge `PutEvents` (one event each) | ${events:.6} |\n\
         | CloudWatch Logs ({:.0} bytes an invocation) | ${logs:.6} |\n\
         | **total** | **${:.6}** |\n",
        ms(p.warm_p50),
        ms(p.warm_p99),
        p.billed_ms(),
        p.log_bytes,
        lambda + events + logs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Calls;

    fn figures(warm_ms: u64, calls: u64, units: &[(&str, f64)]) -> Figures {
        let warm = vec![Duration::from_micros(warm_ms * 1000 - 400); 10];
        let mut warm_calls = Calls::default();
        warm_calls.dynamodb.insert("GetItem".into(), calls * 10);
        warm_calls.dynamodb_units = units.iter().map(|(op, u)| (op.to_string(), u * 10.0)).collect();
        Figures { cold: Vec::new(), warm, first_calls: Calls::default(), warm_calls, peak_rss_kib: 0 }
    }

    #[test]
    fn a_request_is_billed_by_the_started_millisecond_and_its_units() {
        let f = PerRequest::from_figures(&figures(8, 2, &[("GetItem", 0.5), ("TransactWriteItems", 4.0)]), 1024.0);
        assert_eq!(f.billed_ms(), 8);
        assert_eq!((f.dynamodb_calls, f.read_units, f.write_units), (2.0, 0.5, 4.0));
        // 128 MB for 8 ms: 0.001 GB-s.
        assert!((f.lambda(128) - (0.20e-6 + 0.001 * 0.000_013_333_4)).abs() < 1e-15);
        assert!((f.dynamodb() - (0.5 * 0.125e-6 + 4.0 * 0.625e-6)).abs() < 1e-15);
        assert!((f.logs() - 1024.0 / f64::from(1u32 << 30) * 0.5).abs() < 1e-15);
    }
}
