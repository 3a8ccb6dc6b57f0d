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

/// Replaces every occurrence of a set of secret values in a text with `***`, in every form
/// a registry or a library might echo it:
///
/// - exact, lower-case and upper-case;
/// - base64 (standard, URL-safe, with and without padding) and URL-encoded;
/// - a truncated echo: [`Redactor::FRAGMENT`] or more of the value's first or last
///   characters (`sk_live_ab...`, `...b4c9e1`), compared case-insensitively. Runs from
///   the middle of a value are not masked: they would mask ordinary words.
/// - a value of 1-3 characters only where it stands as a whole word (so that it is masked
///   without mangling every word that contains its letters).
#[derive(Clone, Default)]
pub struct Redactor {
    /// Every form of every value, longest first.
    values: Vec<String>,
    /// Values too short for fragments: masked as whole words.
    short: Vec<String>,
    /// Every value of [`Redactor::FRAGMENT`] or more characters, lower-cased, for truncated
    /// echoes of its start or end.
    lowered: Vec<Vec<char>>,
}

impl Redactor {
    /// Shortest run of a secret's characters that is masked wherever it appears.
    pub const FRAGMENT: usize = 6;
    /// Shortest value masked wherever it appears; shorter ones only as whole words.
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
        use base64::Engine;
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        if v.is_empty() {
            return;
        }
        let chars: Vec<char> = v.chars().collect();
        if chars.len() < Self::MIN_LEN {
            if !self.short.iter().any(|x| x == v) {
                self.short.push(v.to_string());
            }
            return;
        }
        let lower: Vec<char> = v.to_lowercase().chars().collect();
        if lower.len() >= Self::FRAGMENT && !self.lowered.contains(&lower) {
            self.lowered.push(lower);
        }
        let encoded: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
        let forms = [
            v.to_string(),
            v.to_lowercase(),
            v.to_uppercase(),
            STANDARD.encode(v),
            STANDARD_NO_PAD.encode(v),
            URL_SAFE.encode(v),
            URL_SAFE_NO_PAD.encode(v),
            encoded,
        ];
        for form in forms {
            if !self.values.contains(&form) {
                self.values.push(form);
            }
        }
        self.values
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// `text` with every known secret value, in any of the forms above, replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        let out = self.mask_fragments(&out);
        self.mask_short_words(&out)
    }

    /// Masks runs of [`Redactor::FRAGMENT`] or more characters that equal the start or the
    /// end of a secret (a truncated echo).
    fn mask_fragments(&self, text: &str) -> String {
        if self.lowered.is_empty() {
            return text.to_string();
        }
        let chars: Vec<char> = text.chars().collect();
        let lower: Vec<char> = chars
            .iter()
            .map(|c| c.to_lowercase().next().unwrap_or(*c))
            .collect();
        let mut covered = vec![false; chars.len()];
        for secret in &self.lowered {
            for start in 0..lower.len() {
                // The secret's start, as long as it goes on matching.
                let head = lower[start..]
                    .iter()
                    .zip(secret.iter())
                    .take_while(|(a, b)| a == b)
                    .count();
                if head >= Self::FRAGMENT {
                    covered[start..start + head].fill(true);
                }
                // The secret's end, ending at `start`.
                let tail = lower[..=start]
                    .iter()
                    .rev()
                    .zip(secret.iter().rev())
                    .take_while(|(a, b)| a == b)
                    .count();
                if tail >= Self::FRAGMENT {
                    covered[start + 1 - tail..=start].fill(true);
                }
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            if covered[i] {
                out.push_str(MASK);
                while i < chars.len() && covered[i] {
                    i += 1;
                }
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }

    /// Masks short values where they stand as whole words.
    fn mask_short_words(&self, text: &str) -> String {
        if self.short.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            if self.short.iter().any(|s| s == word.as_str()) {
                out.push_str(MASK);
            } else {
                out.push_str(word);
            }
            word.clear();
        };
        for c in text.chars() {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
        out
    }
}

/// Text from a registry (a message, a record's name), made safe to print: control
/// characters (ANSI escapes could forge output lines) become spaces, and it is cut at
/// `max` characters.
pub fn clean_text(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push_str("...");
    }
    out
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
        assert_eq!(r.redact("turn on"), "turn ***");
        assert_eq!(r.redact("turn online"), "turn online");
        assert_eq!(r.redact("nothing"), "nothing");
    }

    #[test]
    fn a_secret_is_masked_in_every_form() {
        use base64::Engine;
        let secret = "Sk_Live_Canary/42+x";
        let r = Redactor::new([secret]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let url: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for (form, text) in [
            ("exact", secret.to_string()),
            ("lower", secret.to_lowercase()),
            ("upper", secret.to_uppercase()),
            ("base64", b64),
            ("base64url", b64url),
            ("url-encoded", url),
            ("truncated start", "Sk_Live_Ca".to_string()),
            ("truncated start, upper-case", "SK_LIV".to_string()),
            ("truncated end", "ary/42+x".to_string()),
        ] {
            let out = r.redact(&format!("token {text} refused"));
            assert!(!out.contains(&text), "{form}: {out}");
            assert!(
                out.starts_with("token ") && out.ends_with(" refused"),
                "{form}: {out}"
            );
        }
        // A run from the middle is an ordinary word, not an echo.
        let r = Redactor::new(["wrong-credentials-secret"]);
        assert_eq!(r.redact("invalid credentials"), "invalid credentials");
        let short = Redactor::new(["k9"]);
        assert_eq!(Redactor::new(["k9x2z"]).redact("a k9x2zb"), "a ***b");
        assert_eq!(
            short.redact("key k9 refused (k99)"),
            "key *** refused (k99)"
        );
    }

    #[test]
    fn registry_text_is_cleaned_and_capped() {
        assert_eq!(clean_text("a\u{1b}[31mred\nline", 100), "a [31mred line");
        assert_eq!(clean_text(&"x".repeat(10), 4), "xxxx...");
    }
}
