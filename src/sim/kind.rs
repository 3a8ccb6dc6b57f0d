//! The five wire dialects the simulator speaks. Zudu appears twice because its two
//! published documents (seed 003 and 004) disagree on the body shape, and the operator
//! must be testable against either.

use std::fmt;
use std::str::FromStr;

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

/// One simulated registry, named by its path prefix without the slash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Provider {
    #[serde(rename = "aitronos")]
    Aitronos,
    #[serde(rename = "composio")]
    Composio,
    #[serde(rename = "pais")]
    Pais,
    /// Seed 003: `{"config": {...}}` bodies, `server_url`/`server_name` answers.
    #[serde(rename = "zudu")]
    Zudu,
    /// Seed 004: flat bodies, `url`/`name` answers, extra enum values.
    #[serde(rename = "zudu-flat")]
    ZuduFlat,
}

impl Provider {
    pub const ALL: [Provider; 5] = [
        Provider::Aitronos,
        Provider::Composio,
        Provider::Pais,
        Provider::Zudu,
        Provider::ZuduFlat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aitronos => "aitronos",
            Provider::Composio => "composio",
            Provider::Pais => "pais",
            Provider::Zudu => "zudu",
            Provider::ZuduFlat => "zudu-flat",
        }
    }

    /// The provider's own error body for a status the simulator decided on its own
    /// (faults, rate limits, auth), so clients parse it exactly as a vendor answer.
    pub fn error(self, status: StatusCode, detail: &str) -> Response {
        match self {
            Provider::Aitronos => super::aitronos::error(status, detail),
            Provider::Composio => super::composio::error(status, detail),
            Provider::Pais => super::pais::error(status, detail),
            Provider::Zudu | Provider::ZuduFlat => super::zudu::error(status, detail),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown provider {s:?} (expected aitronos, composio, pais, zudu or zudu-flat)"
                )
            })
    }
}
