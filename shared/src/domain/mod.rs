//! Pure rules: no I/O, time passed in as `now`. Everything else builds on these.

pub mod api_key;
pub mod catalog;
pub mod entitlements;
pub mod events;
pub mod org;
pub mod plan_change;
pub mod redirect;
pub mod subscription;
pub mod summary;
