//! Shared by the integration tests that need it (`mod support;`). Each test crate uses a
//! part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod kube;
pub mod operator;
pub mod providers;
pub mod scale;
pub mod schema_cases;
