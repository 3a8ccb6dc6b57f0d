//! Cluster-less mode: `plan`, `apply`, `delete` and `demo` on manifest files.
