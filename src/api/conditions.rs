//! Condition types and reasons of the contract (kstatus conventions).

use std::fmt;

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

/// Every condition reason of the contract (README "Conditions"). A reason is a type, not a
/// string: [`Reason::as_str`] is the one place it becomes the word users read, and it also
/// serves as a metric and event label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Ready: the registry reports the server available.
    Available,
    /// Ready: synced; the registry has not checked the server yet.
    Pending,
    /// Ready=False: the registry reports the server unavailable.
    Unavailable,
    /// Synced: remote equals spec.
    Synced,
    /// Nothing in progress / nothing stalled.
    Idle,
    /// Remote differs from spec (ObserveOnly, or a change pending).
    Drifted,
    /// A write is being made.
    Updating,
    /// A create is being made.
    Creating,
    /// A spec field the provider does not support.
    UnsupportedField,
    /// A spec value the provider's rules refuse (checked before any call).
    InvalidSpec,
    /// The registry refused the values (400, 422).
    RemoteRejected,
    /// Credentials refused (401, 403).
    Unauthorized,
    /// The known remote record is gone (404).
    RemoteNotFound,
    /// Name conflict or record in use (409), or several records match by name.
    Conflict,
    /// The registry asked to slow down (429, 503).
    RateLimited,
    /// Other 5xx, timeouts, connection errors.
    RegistryUnreachable,
    /// A referenced Secret or key is missing.
    SecretNotFound,
    /// The referenced registry is missing, not allowed, or not ready.
    RegistryNotReady,
    /// `suspend: true`.
    Suspended,
    /// Registry Ready=True.
    Valid,
    /// Registry unreachable.
    Unreachable,
}

impl Reason {
    /// The reason as written in a condition.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Available => "Available",
            Reason::Pending => "Pending",
            Reason::Unavailable => "Unavailable",
            Reason::Synced => "Synced",
            Reason::Idle => "Idle",
            Reason::Drifted => "Drifted",
            Reason::Updating => "Updating",
            Reason::Creating => "Creating",
            Reason::UnsupportedField => "UnsupportedField",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::RemoteRejected => "RemoteRejected",
            Reason::Unauthorized => "Unauthorized",
            Reason::RemoteNotFound => "RemoteNotFound",
            Reason::Conflict => "Conflict",
            Reason::RateLimited => "RateLimited",
            Reason::RegistryUnreachable => "RegistryUnreachable",
            Reason::SecretNotFound => "SecretNotFound",
            Reason::RegistryNotReady => "RegistryNotReady",
            Reason::Suspended => "Suspended",
            Reason::Valid => "Valid",
            Reason::Unreachable => "Unreachable",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Reason> for &str {
    fn eq(&self, other: &Reason) -> bool {
        *self == other.as_str()
    }
}

/// The reasons as the strings conditions carry (for comparisons with stored status).
pub mod reasons {
    use super::Reason;

    pub const AVAILABLE: &str = Reason::Available.as_str();
    pub const PENDING: &str = Reason::Pending.as_str();
    pub const UNAVAILABLE: &str = Reason::Unavailable.as_str();
    pub const SYNCED: &str = Reason::Synced.as_str();
    pub const IDLE: &str = Reason::Idle.as_str();
    pub const DRIFTED: &str = Reason::Drifted.as_str();
    pub const UPDATING: &str = Reason::Updating.as_str();
    pub const CREATING: &str = Reason::Creating.as_str();
    pub const UNSUPPORTED_FIELD: &str = Reason::UnsupportedField.as_str();
    pub const INVALID_SPEC: &str = Reason::InvalidSpec.as_str();
    pub const REMOTE_REJECTED: &str = Reason::RemoteRejected.as_str();
    pub const UNAUTHORIZED: &str = Reason::Unauthorized.as_str();
    pub const REMOTE_NOT_FOUND: &str = Reason::RemoteNotFound.as_str();
    pub const CONFLICT: &str = Reason::Conflict.as_str();
    pub const RATE_LIMITED: &str = Reason::RateLimited.as_str();
    pub const REGISTRY_UNREACHABLE: &str = Reason::RegistryUnreachable.as_str();
    pub const SECRET_NOT_FOUND: &str = Reason::SecretNotFound.as_str();
    pub const REGISTRY_NOT_READY: &str = Reason::RegistryNotReady.as_str();
    pub const SUSPENDED: &str = Reason::Suspended.as_str();
    pub const VALID: &str = Reason::Valid.as_str();
    pub const UNREACHABLE: &str = Reason::Unreachable.as_str();
}
