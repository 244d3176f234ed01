//! The billing domain crate: everything the Lambda functions share. Handlers in `functions/`
//! only parse the event, call a use case here and map the result.
//!
//! Words that look alike:
//!
//! - **idempotency key**: the client's `Idempotency-Key` header on a call it may retry
//!   (`billing::idempotency::IdempotencyKey`, kept only as its SHA-256).
//! - **replay record**: the first answer to such a call, stored per org for 24 hours in the
//!   same write as its effect and answered again to a retry (`store::IdempotencyRecord`).
//! - **Stripe idempotency key**: the key we send Stripe on a write, made from the parts of the
//!   request that define it, so a retried write is one Stripe object
//!   (`stripe::idempotency_key`); the client never sees it.
//!
//! Layers, top first. A module imports only from the rows below its own: never from its own
//! row nor from above, so no two modules can import each other. This table is the rule: the
//! `layers` test reads it and fails on any `crate::` path in `shared/src` that points up or
//! sideways.
//!
//! | modules                                  | what                                                       |
//! |------------------------------------------|------------------------------------------------------------|
//! | `mcp`                                    | the use cases as MCP tools (`POST /mcp`)                   |
//! | `openapi`                                | the API's OpenAPI document, from the request and answer types |
//! | `http`                                   | request parsing, principal, Stripe signature, JSON and error-envelope answers |
//! | `billing`                                | the use cases, one module per operation (summary, checkout, webhook sync...) |
//! | `app`                                    | what a function builds once per cold start                 |
//! | `error`                                  | the API's one error type; store, gateway and rule errors become it at its `From` impls |
//! | `store`, `stripe`, `bus`, `telemetry`    | DynamoDB (`StoreError`), the Stripe and EventBridge gateways (`GatewayError`, `BusError`), JSON logs and the request being served |
//! | `metrics`                                | the one catalog of metrics, as EMF                         |
//! | `config`, `field_schemas`                | the deployment's settings; the schemas of request fields drawn from the catalog |
//! | `domain`, `retry`                        | pure rules, no I/O, `now` passed in (catalog, org state, entitlements...); the one retry helper |

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

#[cfg(test)]
mod layers;

pub use app::{App, now};
pub use error::{ApiError, ErrorKind};
