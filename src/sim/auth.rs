//! Helpers for the vendors' auth checks, which live in each registry's file
//! (`SimRegistry::authenticate`). The simulator checks presence (and, with a seed file,
//! the values) but never stores or logs them.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

/// Who is calling, as far as ownership rules go: the Aitronos user or Zudu organization.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: String,
}

impl Caller {
    /// A caller whose identity no rule looks at.
    pub fn anonymous() -> Caller {
        Caller {
            principal: String::new(),
        }
    }
}

/// A header's trimmed value; missing, not text or empty is `None`.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A stable id derived from a key, so unseeded callers with different keys differ.
pub fn derived(prefix: &str, key: &str, len: usize) -> String {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    format!("{prefix}{}", &digest[..len])
}
