//! What the run found for one target (its figures, or why there are none), and how a check
//! against a target reads in the report. Shared by the report and its cost sections.

use crate::measure::Figures;

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
    /// What the process wrote to stdout and stderr (logs and EMF documents) per invocation.
    pub log_bytes_per_invocation: Option<f64>,
}

/// A target check as the report prints it.
pub fn verdict(pass: bool) -> &'static str {
    if pass { "pass" } else { "**FAIL**" }
}
