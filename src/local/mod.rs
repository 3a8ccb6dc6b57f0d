//! Cluster-less mode: `plan`, `apply`, `delete` and `demo` on manifest files, with the same
//! engine as the controller; status goes to a state file instead of the cluster.

pub mod delete;
pub mod demo;
pub mod manifests;
pub mod output;
pub mod ports;
pub mod progress;
pub mod prune;
pub mod run;
pub mod secrets;
pub mod state;
