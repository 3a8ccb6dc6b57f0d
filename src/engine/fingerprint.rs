//! Salted SHA-256 fingerprints of write-only values.
//!
//! A registry never returns write-only fields (secret headers, credentials, tool
//! configuration, secret tokens), so drift cannot be seen by comparison. Instead the status
//! keeps `sha256:<salt>:<digest>` of the value as last applied. The salt is random per
//! write (passed in, the engine has no randomness), so equal values in two objects give
//! different fingerprints and a fingerprint cannot be looked up in a precomputed table.

use serde_json::Value;
use sha2::{Digest, Sha256};

const SCHEME: &str = "sha256";

/// Fingerprint of `value` for the remote field `remote`, salted with `salt`.
pub fn fingerprint(remote: &str, value: &Value, salt: &[u8; 16]) -> String {
    let salt_hex = hex::encode(salt);
    format!("{SCHEME}:{salt_hex}:{}", digest(remote, value, salt))
}

/// Whether `fp` is the fingerprint of `value` (with the salt recorded inside `fp`).
/// A malformed fingerprint matches nothing, so the value is simply sent again.
pub fn matches(fp: &str, remote: &str, value: &Value) -> bool {
    let mut parts = fp.splitn(3, ':');
    let (Some(SCHEME), Some(salt_hex), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(salt) = <[u8; 16]>::try_from(hex::decode(salt_hex).unwrap_or_default()) else {
        return false;
    };
    digest(remote, value, &salt) == expected
}

fn digest(remote: &str, value: &Value, salt: &[u8; 16]) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(remote.as_bytes());
    h.update([0u8]);
    h.update(canonical_json(value).as_bytes());
    hex::encode(h.finalize())
}

/// JSON with object keys sorted at every level, so that the digest does not depend on the
/// order in which a map happened to be built.
fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SALT_A: [u8; 16] = [1; 16];
    const SALT_B: [u8; 16] = [2; 16];

    #[test]
    fn same_value_matches_its_fingerprint() {
        let v = json!({"Authorization": "Bearer canary-123"});
        let fp = fingerprint("headers", &v, &SALT_A);
        assert!(matches(&fp, "headers", &v));
    }

    #[test]
    fn rotated_value_does_not_match() {
        let fp = fingerprint("headers", &json!({"a": "old"}), &SALT_A);
        assert!(!matches(&fp, "headers", &json!({"a": "new"})));
    }

    #[test]
    fn fingerprint_is_bound_to_the_field() {
        let fp = fingerprint("headers", &json!("x"), &SALT_A);
        assert!(!matches(&fp, "credentials", &json!("x")));
    }

    #[test]
    fn salt_changes_the_fingerprint_but_both_verify() {
        let v = json!("s3cr3t-value");
        let a = fingerprint("credentials", &v, &SALT_A);
        let b = fingerprint("credentials", &v, &SALT_B);
        assert_ne!(a, b);
        assert!(matches(&a, "credentials", &v) && matches(&b, "credentials", &v));
    }

    #[test]
    fn fingerprint_never_contains_the_value() {
        let fp = fingerprint(
            "credentials",
            &json!({"token": "canary-SECRET-42"}),
            &SALT_A,
        );
        assert!(!fp.contains("canary"));
        assert!(fp.starts_with("sha256:"));
    }

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":2,"x":3}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":3,"y":2},"b":1}"#).unwrap();
        let fp = fingerprint("f", &a, &SALT_A);
        assert!(matches(&fp, "f", &b));
    }

    #[test]
    fn malformed_fingerprints_match_nothing() {
        for fp in ["", "sha256", "md5:00:00", "sha256:zz:00", "sha256:0101:abc"] {
            assert!(!matches(fp, "f", &json!("x")), "{fp}");
        }
    }
}
