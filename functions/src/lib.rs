//! One module per Lambda function. Each `handle` parses the event, calls `billing_shared` and
//! maps the result; the bins in `src/bin/` only build the `App` once and serve `handle`.
//! The local gateway (`infra/`) calls these same functions.

pub mod authorizer;
pub mod billing_plans;
pub mod billing_summary;
pub mod not_found;
