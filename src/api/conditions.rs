//! Condition types and reasons of the contract (kstatus conventions).

/// Condition types.
pub mod types {
    /// Synced and not known to be unavailable.
    pub const READY: &str = "Ready";
    /// The remote record equals the spec.
    pub const SYNCED: &str = "Synced";
    /// A change is in progress.
    pub const RECONCILING: &str = "Reconciling";
    /// An error that retrying cannot fix.
    pub const STALLED: &str = "Stalled";
}

/// Condition reasons.
pub mod reasons {
    /// Ready: the registry reports the server available.
    pub const AVAILABLE: &str = "Available";
    /// Ready: synced; the registry has not checked the server yet.
    pub const PENDING: &str = "Pending";
    /// Ready=False: the registry reports the server unavailable.
    pub const UNAVAILABLE: &str = "Unavailable";
    /// Synced: remote equals spec.
    pub const SYNCED: &str = "Synced";
    /// Nothing in progress / nothing stalled.
    pub const IDLE: &str = "Idle";
    /// Remote differs from spec (ObserveOnly, or a change pending).
    pub const DRIFTED: &str = "Drifted";
    /// A write is being made.
    pub const UPDATING: &str = "Updating";
    /// A create is being made.
    pub const CREATING: &str = "Creating";
    /// A spec field the provider does not support.
    pub const UNSUPPORTED_FIELD: &str = "UnsupportedField";
    /// A spec value the provider's rules refuse (checked before any call).
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// The registry refused the values (400, 422).
    pub const REMOTE_REJECTED: &str = "RemoteRejected";
    /// Credentials refused (401, 403).
    pub const UNAUTHORIZED: &str = "Unauthorized";
    /// The known remote record is gone (404).
    pub const REMOTE_NOT_FOUND: &str = "RemoteNotFound";
    /// Name conflict or record in use (409), or several records match by name.
    pub const CONFLICT: &str = "Conflict";
    /// The registry asked to slow down (429, 503).
    pub const RATE_LIMITED: &str = "RateLimited";
    /// Other 5xx, timeouts, connection errors.
    pub const REGISTRY_UNREACHABLE: &str = "RegistryUnreachable";
    /// A referenced Secret or key is missing.
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// The referenced registry is missing, not allowed, or not ready.
    pub const REGISTRY_NOT_READY: &str = "RegistryNotReady";
    /// `suspend: true`.
    pub const SUSPENDED: &str = "Suspended";
    /// Registry Ready=True.
    pub const VALID: &str = "Valid";
    /// Registry unreachable.
    pub const UNREACHABLE: &str = "Unreachable";
}
