//! The registry simulator: one axum server speaking the four registries' APIs.
