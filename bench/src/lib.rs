//! The benchmark behind `scripts/bench` (a measurement, never a test): every Lambda function of
//! template.yaml and a bare floor binary, run as Lambda runs them against DynamoDB Local and the
//! Stripe stand-in, for cold start, warm latency, DynamoDB (and Stripe) calls per request, peak
//! RSS and arm64 binary size. And `reconcile`, behind `scripts/bench-reconciler`: one reconciler
//! run over many orgs, stuck intents and missed events, for its time and its DynamoDB and Stripe calls.

pub mod capacity;
pub mod cost;
pub mod emulator;
pub mod events;
pub mod measure;
pub mod outcome;
pub mod proxy;
pub mod reconcile;
pub mod report;
pub mod seed;
pub mod stats;
pub mod stripe;
pub mod targets;
