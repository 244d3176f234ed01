//! The document's operations, one file per group of routes; the builders they use are in the
//! parent module.

pub(super) mod agents;
pub(super) mod billing;
pub(super) mod credits;
pub(super) mod plan_changes;
pub(super) mod service;
pub(super) mod usage;
