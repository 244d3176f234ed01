//! The billing domain crate: everything the Lambda functions share. Handlers in `functions/`
//! only parse the event, call a use case here and map the result.
//!
//! Layers, each depending only on those below it:
//!
//! | module     | what                                                                        |
//! |------------|-----------------------------------------------------------------------------|
//! | `http`     | request parsing, principal, Stripe signature, JSON and error-envelope answers |
//! | `billing`  | the use cases, one module per operation (summary, checkout, webhook sync...) |
//! | `store`    | DynamoDB: key layout, item mapping, conditional writes (`StoreError`)        |
//! | `stripe`   | the Stripe gateway: async-stripe request builders, our client (`GatewayError`) |
//! | `bus`      | the EventBridge gateway: activity records onto the stack's bus (`BusError`)  |
//! | `domain`   | pure rules, no I/O, `now` passed in: catalog, org state, entitlements...     |
//!
//! Beside them: `error` (the API's one error type; store and gateway errors become it at its
//! `From` impls), `retry` (the one retry helper), `config`, `telemetry`, `metrics` (the one
//! catalog of metrics, as EMF), `field_schemas` (the schemas of request fields drawn from the
//! catalog), `app` (what a function builds once per cold start), `openapi` (the API's OpenAPI
//! document, built from the request and response types) and `mcp` (the same use cases as MCP
//! tools, `POST /mcp`).

pub mod app;
pub mod billing;
pub mod bus;
pub mod config;
pub mod domain;
pub mod error;
pub mod field_schemas;
pub mod http;
pub mod mcp;
pub mod metrics;
pub mod openapi;
pub mod retry;
pub mod store;
pub mod stripe;
pub mod telemetry;

pub use app::{App, now};
pub use error::{ApiError, ErrorKind};
