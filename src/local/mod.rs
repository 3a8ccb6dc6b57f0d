//! Cluster-less mode: `plan`, `apply`, `delete` and `demo` on manifest files.

pub mod manifests;
pub mod secrets;
pub mod state;
