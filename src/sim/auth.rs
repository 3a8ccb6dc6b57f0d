//! Each vendor's auth headers. The simulator checks presence (and, with a seed file,
//! the values) but never stores or logs them.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use super::kind::Provider;
use super::seed::Credential;

/// Organization every Zudu caller belongs to when no seed names one.
pub const DEFAULT_ZUDU_ORG: &str = "org_sim";

/// Who is calling, as far as ownership rules go: the Aitronos user or Zudu organization.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: String,
}

/// The caller, or the reason for a 401 (safe to show: it never echoes a value).
pub fn authenticate(
    provider: Provider,
    headers: &HeaderMap,
    accepted: &[Credential],
) -> Result<Caller, &'static str> {
    match provider {
        Provider::Aitronos => aitronos(headers, accepted),
        Provider::Composio => composio(headers, accepted),
        Provider::Pais => pais(headers, accepted),
        Provider::Zudu | Provider::ZuduFlat => zudu(headers, accepted),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A stable id derived from a key, so unseeded callers with different keys differ.
fn derived(prefix: &str, key: &str, len: usize) -> String {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    format!("{prefix}{}", &digest[..len])
}

fn aitronos(headers: &HeaderMap, accepted: &[Credential]) -> Result<Caller, &'static str> {
    let key = header(headers, "x-api-key").ok_or("Missing API key")?;
    let principal = if accepted.is_empty() {
        derived("usr_", key, 32)
    } else {
        let cred = accepted
            .iter()
            .find(|c| c.api_key.as_deref() == Some(key))
            .ok_or("Invalid API key")?;
        cred.user_id
            .clone()
            .unwrap_or_else(|| derived("usr_", key, 32))
    };
    Ok(Caller { principal })
}

fn composio(headers: &HeaderMap, accepted: &[Credential]) -> Result<Caller, &'static str> {
    let key = header(headers, "x-api-key")
        .or_else(|| header(headers, "x-user-api-key"))
        .ok_or("API key is missing")?;
    if !accepted.is_empty() && !accepted.iter().any(|c| c.api_key.as_deref() == Some(key)) {
        return Err("Invalid API key");
    }
    Ok(Caller {
        principal: String::new(),
    })
}

fn pais(headers: &HeaderMap, accepted: &[Credential]) -> Result<Caller, &'static str> {
    let value = header(headers, "authorization").ok_or("Not authenticated")?;
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or("Not authenticated")?;
    if !accepted.is_empty() && !accepted.iter().any(|c| c.token.as_deref() == Some(token)) {
        return Err("Invalid authentication credentials");
    }
    Ok(Caller {
        principal: String::new(),
    })
}

fn zudu(headers: &HeaderMap, accepted: &[Credential]) -> Result<Caller, &'static str> {
    let missing = "Missing or invalid API key/secret";
    let key = header(headers, "x-api-key").ok_or(missing)?;
    let secret = header(headers, "x-api-secret").ok_or(missing)?;
    if accepted.is_empty() {
        return Ok(Caller {
            principal: DEFAULT_ZUDU_ORG.into(),
        });
    }
    let cred = accepted
        .iter()
        .find(|c| c.api_key.as_deref() == Some(key) && c.api_secret.as_deref() == Some(secret))
        .ok_or(missing)?;
    Ok(Caller {
        principal: cred
            .organization_id
            .clone()
            .unwrap_or_else(|| DEFAULT_ZUDU_ORG.into()),
    })
}
