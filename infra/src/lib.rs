//! Local infrastructure: the table and routes read from template.yaml, the local API gateway,
//! and demo seed data.

pub mod gateway;
pub mod seed;
pub mod template;
