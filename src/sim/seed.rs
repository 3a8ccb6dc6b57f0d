//! The seed file: records and accepted credentials per provider, read once at start
//! and again on reset, so a sandbox or test always starts from the same state.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::{aitronos, composio, pais, zudu};

/// One accepted credential. Which fields matter depends on the provider: `api_key`
/// (aitronos, composio, zudu), `api_secret` (zudu), `token` (pais); `user_id` is the
/// Aitronos owner and `organization_id` the Zudu organization of the caller.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub api_secret: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub organization_id: Option<String>,
}

/// Credentials and records of one provider. No credentials: any non-empty ones pass.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section<R> {
    #[serde(default)]
    pub credentials: Vec<Credential>,
    #[serde(default = "Vec::new")]
    pub records: Vec<R>,
}

impl<R> Default for Section<R> {
    fn default() -> Self {
        Section {
            credentials: Vec::new(),
            records: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub aitronos: Section<aitronos::Record>,
    #[serde(default)]
    pub composio: Section<composio::Record>,
    #[serde(default)]
    pub pais: Section<pais::Record>,
    #[serde(default)]
    pub zudu: Section<zudu::Record>,
    #[serde(default, rename = "zudu-flat")]
    pub zudu_flat: Section<zudu::Record>,
}

impl Seed {
    pub fn load(path: &Path) -> anyhow::Result<Seed> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading simulator seed {}", path.display()))?;
        Seed::parse(&text).with_context(|| format!("parsing simulator seed {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Seed> {
        Ok(serde_saphyr::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_seed_parses_with_every_section() {
        let seed = Seed::parse(include_str!("../../docs/sim-seed.yaml")).unwrap();
        assert_eq!(
            seed.aitronos.records[0].user_id.as_deref(),
            Some("usr_demo")
        );
        assert_eq!(seed.composio.records[0].toolkits, ["github"]);
        assert_eq!(seed.pais.records[0].availability, "AVAILABLE");
        assert_eq!(
            seed.zudu.credentials[0].organization_id.as_deref(),
            Some("org_demo")
        );
        assert_eq!(seed.zudu_flat.credentials.len(), 1);
    }

    #[test]
    fn unknown_seed_fields_are_refused() {
        assert!(
            Seed::parse("zudu:\n  records:\n    - {name: a, url: http://a, colour: red}\n")
                .is_err()
        );
        assert!(Seed::parse("nope: {}\n").is_err());
    }

    #[test]
    fn write_only_values_and_times_parse() {
        let seed = Seed::parse(
            "aitronos:\n  records:\n    - name: a\n      server_url: https://a\n      created_at: '2025-11-13T10:00:00Z'\n      credentials: {token: t}\n",
        )
        .unwrap();
        let record = &seed.aitronos.records[0];
        assert_eq!(record.credentials.as_ref().unwrap()["token"], "t");
        assert_eq!(record.created_at.to_string(), "2025-11-13T10:00:00Z");
    }
}
