//! The local run's metrics. In AWS each function writes its own to CloudWatch (EMF on stdout);
//! the local run serves every function in one process and writes none, so this recorder counts
//! them since the process started, for `/local/events`: each counter's total, each gauge's
//! latest value and each histogram's count and sum, by metric name and labels (the catalog's
//! labels are bounded sets, so the series are too: `billing_shared::metrics`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};

static INSTALLED: OnceLock<&'static MetricCounts> = OnceLock::new();

/// Makes the counts the recorder of this process's metrics, once (later calls change nothing),
/// and has the catalog describe its metrics to them.
///
/// # Panics
/// If another recorder was installed first (a function's EMF collector): a local process has none.
pub fn install() -> &'static MetricCounts {
    INSTALLED.get_or_init(|| {
        let counts: &'static MetricCounts = Box::leak(Box::default());
        metrics::set_global_recorder(CountingRecorder(counts)).expect("no other metrics recorder in a local process");
        billing_shared::metrics::describe();
        counts
    })
}

/// The counts, if this process installed them.
pub fn installed() -> Option<&'static MetricCounts> {
    INSTALLED.get().copied()
}

/// One metric and its labels, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    name: String,
    labels: Vec<(String, String)>,
}

impl Series {
    fn of(key: &Key) -> Self {
        Self { name: key.name().to_string(), labels: key.labels().map(|l| (l.key().to_string(), l.value().to_string())).collect() }
    }
}

/// A histogram's values so far: how many, and their sum.
#[derive(Default)]
struct Summary(Mutex<(u64, f64)>);

impl HistogramFn for Summary {
    fn record(&self, value: f64) {
        let mut summary = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        summary.0 += 1;
        summary.1 += value;
    }
}

/// The series recorded so far, each with the handle its `counter!` (etc.) calls update.
#[derive(Default)]
struct Recorded {
    counters: BTreeMap<Series, Arc<AtomicU64>>,
    gauges: BTreeMap<Series, Arc<AtomicU64>>,
    histograms: BTreeMap<Series, Arc<Summary>>,
    /// By metric name: its description and unit (`ms`), from `describe`.
    descriptions: BTreeMap<String, (String, Option<Unit>)>,
}

/// Every metric recorded in this process since it started.
#[derive(Default)]
pub struct MetricCounts(Mutex<Recorded>);

/// What a series amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Count(u64),
    Latest(f64),
    Values { count: u64, sum: f64 },
}

/// One line of the page: a series, what its metric means, and its reading.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub description: String,
    /// The canonical label of the metric's unit (`ms`), if it has one.
    pub unit: Option<&'static str>,
    pub reading: Reading,
}

impl MetricCounts {
    /// Every series recorded so far, sorted by metric name and then labels.
    pub fn rows(&self) -> Vec<MetricRow> {
        let state = self.state();
        let counters = state.counters.iter().map(|(s, c)| (s, Reading::Count(c.load(Ordering::Relaxed))));
        let gauges = state.gauges.iter().map(|(s, g)| (s, Reading::Latest(f64::from_bits(g.load(Ordering::Relaxed)))));
        let histograms = state.histograms.iter().map(|(s, h)| {
            let (count, sum) = *h.0.lock().unwrap_or_else(PoisonError::into_inner);
            (s, Reading::Values { count, sum })
        });
        let mut rows: Vec<MetricRow> = counters
            .chain(gauges)
            .chain(histograms)
            .map(|(series, reading)| {
                let described = state.descriptions.get(&series.name);
                MetricRow {
                    name: series.name.clone(),
                    labels: series.labels.clone(),
                    description: described.map(|(d, _)| d.clone()).unwrap_or_default(),
                    unit: described.and_then(|(_, u)| u.as_ref()).map(Unit::as_canonical_label),
                    reading,
                }
            })
            .collect();
        rows.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        rows
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.state().descriptions.insert(key.as_str().to_string(), (description.into_owned(), unit));
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The recorder `metrics` calls: registering a series (each `counter!`) finds or adds its handle.
struct CountingRecorder(&'static MetricCounts);

impl Recorder for CountingRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe(key, unit, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.0.state().counters.entry(Series::of(key)).or_default().clone())
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.0.state().gauges.entry(Series::of(key)).or_default().clone())
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.state().histograms.entry(Series::of(key)).or_default().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_name_and_labels_sorted_with_their_descriptions() {
        let counts: &'static MetricCounts = Box::leak(Box::default());
        metrics::with_local_recorder(&CountingRecorder(counts), || {
            metrics::describe_counter!("requests", "Requests answered");
            metrics::describe_histogram!("latency", Unit::Milliseconds, "One call");
            metrics::counter!("requests", "outcome" => "4xx").increment(1);
            metrics::counter!("requests", "outcome" => "2xx").increment(2);
            metrics::counter!("requests", "outcome" => "4xx").increment(1);
            metrics::histogram!("latency").record(10.0);
            metrics::histogram!("latency").record(30.0);
            metrics::gauge!("depth").set(3.0);
            metrics::gauge!("depth").set(2.0);
        });
        let rows = counts.rows();
        let shown: Vec<(&str, String, &Reading)> = rows.iter().map(|r| (r.name.as_str(), format!("{:?}", r.labels), &r.reading)).collect();
        let outcome = |o: &str| format!("{:?}", [("outcome", o)]);
        assert_eq!(
            shown,
            [
                ("depth", "[]".into(), &Reading::Latest(2.0)),
                ("latency", "[]".into(), &Reading::Values { count: 2, sum: 40.0 }),
                ("requests", outcome("2xx"), &Reading::Count(2)),
                ("requests", outcome("4xx"), &Reading::Count(2)),
            ]
        );
        assert_eq!((rows[1].description.as_str(), rows[1].unit), ("One call", Some("ms")));
        assert_eq!((rows[2].description.as_str(), rows[2].unit), ("Requests answered", None));
        assert_eq!(rows[0].description, "");
    }
}
