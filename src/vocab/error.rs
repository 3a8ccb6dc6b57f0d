//! A failed registry call, classified (docs/providers.md, "Errors -> conditions").

use crate::api::conditions::Reason;

/// How a failed call is to be handled (docs/providers.md, "Errors -> conditions").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// 400, 422: the registry refused the values. Retry only after the spec changes.
    Rejected,
    /// 401, 403: credentials refused.
    Unauthorized,
    /// 404 on a known id.
    NotFound,
    /// 409: name conflict, or the record is in use.
    Conflict,
    /// 429, 503: slow down (after `Retry-After` when given).
    RateLimited,
    /// Other 5xx, timeouts, connection errors, oversized or undecodable answers.
    Unreachable,
}

/// A failed registry call, safe to show: `message` holds the registry's documented
/// message field (with every known secret value masked) or a description of the
/// transport failure, never a raw body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    pub class: ErrorClass,
    /// HTTP status, when an answer arrived.
    pub status: Option<u16>,
    pub message: String,
    /// The registry's `Retry-After`, when it sent one.
    pub retry_after: Option<std::time::Duration>,
}

impl ErrorClass {
    /// The condition reason of a failed call.
    pub fn reason(self) -> Reason {
        match self {
            ErrorClass::Rejected => Reason::RemoteRejected,
            ErrorClass::Unauthorized => Reason::Unauthorized,
            ErrorClass::NotFound => Reason::RemoteNotFound,
            ErrorClass::Conflict => Reason::Conflict,
            ErrorClass::RateLimited => Reason::RateLimited,
            ErrorClass::Unreachable => Reason::RegistryUnreachable,
        }
    }

    /// Whether retrying cannot help until the spec or a referenced object changes
    /// (`Stalled=True`).
    pub fn is_stalled(self) -> bool {
        matches!(
            self,
            ErrorClass::Rejected | ErrorClass::Unauthorized | ErrorClass::Conflict
        )
    }

    /// Whether the registry answered with a definitive refusal (400/401/403/404/409/422):
    /// a create so refused certainly made no record. Rate limits, 5xx, timeouts and
    /// dropped connections are not: the request may have been carried out.
    pub fn is_definitive(self) -> bool {
        !matches!(self, ErrorClass::RateLimited | ErrorClass::Unreachable)
    }
}
