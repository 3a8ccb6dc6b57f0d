//! Secret values in memory, and masking them out of text meant for people.
//!
//! A [`SecretValue`] cannot be printed by accident (`Debug` and `Display` show `***`) and
//! cannot be serialized; the value is reached only through [`SecretValue::expose`], which
//! makes every use greppable. A [`Redactor`] masks known secret values in messages that
//! quote remote answers (a registry may echo a header or a credential back).

use std::fmt;

/// What every masked secret is printed as.
pub const MASK: &str = "***";

/// A secret string (API key, token, header value). Deliberately not `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        SecretValue(value)
    }
}

impl From<&str> for SecretValue {
    fn from(value: &str) -> Self {
        SecretValue(value.to_string())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Replaces every occurrence of a set of secret values in a text with `***`.
///
/// Values shorter than [`Redactor::MIN_LEN`] characters are not masked: masking `"a"` or
/// `"on"` would mangle every message while protecting nothing (such a value is guessable
/// anyway). Longer values are replaced first, so a secret that contains another is masked
/// whole.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first.
    values: Vec<String>,
}

impl Redactor {
    /// Shortest value that is masked.
    pub const MIN_LEN: usize = 4;

    /// A redactor for plain secret strings (e.g. resolved Secret values).
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut r = Redactor::default();
        for s in secrets {
            r.add_str(s.as_ref());
        }
        r
    }

    /// A redactor for [`SecretValue`]s.
    pub fn from_secrets<'a, I>(secrets: I) -> Self
    where
        I: IntoIterator<Item = &'a SecretValue>,
    {
        Redactor::new(secrets.into_iter().map(SecretValue::expose))
    }

    /// Adds one more value to mask.
    pub fn add(&mut self, secret: &SecretValue) {
        self.add_str(secret.expose());
    }

    fn add_str(&mut self, v: &str) {
        if v.chars().count() < Self::MIN_LEN || self.values.iter().any(|x| x == v) {
            return;
        }
        self.values.push(v.to_string());
        self.values
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// `text` with every known secret value replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_value_never_prints() {
        let s = SecretValue::new("sk_live_canary");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "sk_live_canary");
    }

    #[test]
    fn redactor_masks_all_occurrences_longest_first() {
        let a = SecretValue::new("abcd");
        let b = SecretValue::new("abcdef");
        let short = SecretValue::new("on");
        let r = Redactor::from_secrets([&a, &b, &short]);
        assert_eq!(Redactor::new(["abcd"]).redact("xabcdx"), "x***x");
        assert_eq!(r.redact("x abcdef y abcd z"), "x *** y *** z");
        assert_eq!(r.redact("turn on"), "turn on");
        assert_eq!(r.redact("nothing"), "nothing");
    }
}
