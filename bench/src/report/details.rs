//! The detail tables of BENCHMARKS.md: what each function was asked, then one table per metric
//! with its ratio to the floor and its target.

use std::fmt::Write;

use super::{COLD_RATIO, Line, RSS_RATIO, WARM_RATIO, call_cells, cold, compare, mb, ms, rss, size_pass, target_cell, times, warm};
use crate::outcome::{Row, Status, verdict};
use crate::targets::{FLOOR, is_floor};

/// Each table's rows (the header is the page's).
pub(super) struct Tables {
    pub requests: String,
    pub cold_table: String,
    pub warm_table: String,
    pub rss_table: String,
    pub dynamodb_table: String,
    pub stripe_table: String,
    pub size_table: String,
    /// A whole table, or the sentence that every function was measured.
    pub unmeasured: String,
}

pub(super) fn tables(rows: &[Row], lines: &[Line], floor: Option<&Line>) -> Tables {
    let mut requests = String::new();
    for row in rows {
        let _ = writeln!(requests, "| {} | {} |", row.binary, row.request);
    }
    let (mut cold_table, mut warm_table, mut rss_table) = (String::new(), String::new(), String::new());
    let (mut dynamodb_table, mut stripe_table) = (String::new(), String::new());
    for line in lines {
        let (name, figures) = (&line.row.binary, line.figures);
        let (ratio, pass) = compare(line, floor, cold, COLD_RATIO);
        let (p90_ratio, _) = compare(line, floor, |l| l.cold_p90.as_secs_f64(), COLD_RATIO);
        let (min, max) = (figures.cold.iter().min().copied().unwrap_or_default(), figures.cold.iter().max().copied().unwrap_or_default());
        let _ = writeln!(
            cold_table,
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            ms(line.cold_median),
            ms(line.cold_p90),
            ms(min),
            ms(max),
            times(ratio),
            times(p90_ratio),
            target_cell(pass, "<= 1.3x", name)
        );

        let (ratio, pass) = compare(line, floor, warm, WARM_RATIO);
        let (p50_ratio, _) = compare(line, floor, |l| l.warm_p50.as_secs_f64(), WARM_RATIO);
        let max = figures.warm.iter().max().copied().unwrap_or_default();
        let _ = writeln!(
            warm_table,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            ms(line.warm_p50),
            ms(line.warm_p99),
            ms(max),
            times(p50_ratio),
            times(ratio),
            target_cell(pass, "<= 1.3x", name)
        );

        let (first, warm_calls, n) = (&figures.first_calls, &figures.warm_calls, figures.warm.len());
        let (total, by_op, extra) = call_cells(&first.dynamodb, &warm_calls.dynamodb, n);
        let budget = line.row.dynamo_budget.map_or("-".into(), |max| format!("<= {max}: {}", verdict(total <= max as f64)));
        let _ = writeln!(dynamodb_table, "| {name} | {total:.2} | {by_op} | {extra} | {budget} |");
        let (total, by_op, extra) = call_cells(&first.stripe, &warm_calls.stripe, n);
        let _ = writeln!(stripe_table, "| {name} | {total:.2} | {by_op} | {extra} |");

        let (ratio, pass) = compare(line, floor, rss, RSS_RATIO);
        let kib = figures.peak_rss_kib;
        let _ = writeln!(
            rss_table,
            "| {name} | {:.1} MiB ({kib} KiB) | {} | {} |",
            kib as f64 / 1024.0,
            times(ratio),
            target_cell(pass, "<= 2x", name)
        );
    }
    let mut size_table = String::new();
    for row in rows.iter().filter(|r| r.binary == FLOOR || !is_floor(&r.binary)) {
        let size = row.arm64_bytes.map_or("not built".into(), |bytes| format!("{} ({bytes} bytes)", mb(bytes)));
        let _ = writeln!(size_table, "| {} | {size} | {} |", row.binary, target_cell(size_pass(row), "<= 8 MB", &row.binary));
    }
    let mut unmeasured = String::new();
    for row in rows {
        let status = match &row.status {
            Status::Measured(_) => continue,
            Status::Failed(error) => format!("failed: {error}"),
            Status::NotMeasured(reason) => format!("not measured: {reason}"),
        };
        let _ = writeln!(unmeasured, "| {} | {} | {} |", row.binary, row.request, status.replace('|', "\\|"));
    }
    let unmeasured = if unmeasured.is_empty() {
        "Every function of template.yaml was measured.\n".to_string()
    } else {
        format!("| function | request | status |\n|---|---|---|\n{unmeasured}")
    };
    Tables { requests, cold_table, warm_table, rss_table, dynamodb_table, stripe_table, size_table, unmeasured }
}
