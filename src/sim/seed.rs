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
