//! Local infrastructure: the table and routes read from template.yaml, the local API gateway,
//! the local run's landing pages and metric counts, demo seed data, and the offline Stripe stand-in started with the catalog's prices.

pub mod gateway;
pub mod local_pages;
pub mod metric_counts;
pub mod outbox;
pub mod seed;
pub mod standin;
pub mod template;
