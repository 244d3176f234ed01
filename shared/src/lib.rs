//! The billing domain: everything the Lambda functions share. Handlers in `functions/` only
//! parse the event, call into here and map the result.

pub mod app;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod entitlements;
pub mod error;
pub mod http;
pub mod org;
pub mod store;
pub mod summary;
pub mod telemetry;

pub use app::{App, now};
pub use error::{ApiError, ErrorKind};
pub mod checkout;
pub mod invoices;
pub mod portal;
pub mod redirect;
pub mod stripe;
pub mod sync;
pub mod webhook;
