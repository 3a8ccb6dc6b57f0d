//! Shared HTTP client (in progress).
