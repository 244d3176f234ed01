//! Local infrastructure: the table and routes read from template.yaml, the local API gateway,
//! demo seed data, and the offline Stripe stand-in started with the catalog's prices.

pub mod gateway;
pub mod seed;
pub mod standin;
pub mod template;
