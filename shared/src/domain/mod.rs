//! Pure rules: no I/O, time passed in as `now`. Everything else builds on these.

pub mod activity;
pub mod api_key;
pub mod approval;
pub mod auto_top_up;
pub mod brake;
pub mod calendar;
pub mod catalog;
pub mod change;
pub mod drift;
pub mod entitlements;
pub mod events;
pub mod ids;
pub mod invalid;
pub mod ledger;
pub mod mandate;
pub mod org;
pub mod plan_change;
pub mod principal;
pub mod promotion;
pub mod redirect;
pub mod signals;
pub mod subscription;
pub mod summary;
pub mod trial;
pub mod whole_number;
