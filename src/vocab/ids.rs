//! Typed identities. Each has one explicit text form ([`fmt::Display`], also its serde
//! form), used in state files, messages, metrics and events; `Debug` is never a format.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::api::RegistryKind;

/// A namespaced object: `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Text that is not an identity of the expected form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not {expected}")]
pub struct ParseIdError {
    text: String,
    expected: &'static str,
}

impl FromStr for ObjectKey {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(ObjectKey::new(ns, name))
            }
            _ => Err(ParseIdError {
                text: s.to_string(),
                expected: "namespace/name",
            }),
        }
    }
}

/// One registry object: `McpRegistry/namespace/name` or `ClusterMcpRegistry/name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RegistryId {
    Namespaced(ObjectKey),
    Cluster(String),
}

impl RegistryId {
    pub fn kind(&self) -> RegistryKind {
        match self {
            RegistryId::Namespaced(_) => RegistryKind::McpRegistry,
            RegistryId::Cluster(_) => RegistryKind::ClusterMcpRegistry,
        }
    }

    /// `metadata.name` of the registry object.
    pub fn name(&self) -> &str {
        match self {
            RegistryId::Namespaced(key) => &key.name,
            RegistryId::Cluster(name) => name,
        }
    }

    /// Its namespace (McpRegistry only).
    pub fn namespace(&self) -> Option<&str> {
        match self {
            RegistryId::Namespaced(key) => Some(&key.namespace),
            RegistryId::Cluster(_) => None,
        }
    }
}

impl fmt::Display for RegistryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryId::Namespaced(key) => write!(f, "McpRegistry/{key}"),
            RegistryId::Cluster(name) => write!(f, "ClusterMcpRegistry/{name}"),
        }
    }
}

impl FromStr for RegistryId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseIdError {
            text: s.to_string(),
            expected: "McpRegistry/namespace/name or ClusterMcpRegistry/name",
        };
        match s.split_once('/') {
            Some(("McpRegistry", rest)) => {
                rest.parse().map(RegistryId::Namespaced).map_err(|_| bad())
            }
            Some(("ClusterMcpRegistry", name)) if !name.is_empty() && !name.contains('/') => {
                Ok(RegistryId::Cluster(name.to_string()))
            }
            _ => Err(bad()),
        }
    }
}

macro_rules! text_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
text_serde!(ObjectKey);
text_serde!(RegistryId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_through_their_text_form() {
        let key = ObjectKey::new("team-a", "github");
        assert_eq!(key.to_string(), "team-a/github");
        assert_eq!("team-a/github".parse::<ObjectKey>(), Ok(key.clone()));
        let ns = RegistryId::Namespaced(key);
        assert_eq!(ns.to_string(), "McpRegistry/team-a/github");
        assert_eq!(ns.to_string().parse::<RegistryId>(), Ok(ns.clone()));
        let cluster = RegistryId::Cluster("composio-prod".into());
        assert_eq!(cluster.to_string(), "ClusterMcpRegistry/composio-prod");
        assert_eq!(cluster.to_string().parse::<RegistryId>(), Ok(cluster));
        assert_eq!(
            serde_json::to_value(&ns).ok(),
            Some(serde_json::json!("McpRegistry/team-a/github"))
        );
        for bad in [
            "",
            "a",
            "a/",
            "/b",
            "a/b/c",
            "Registry/x",
            "ClusterMcpRegistry/",
        ] {
            assert!(bad.parse::<RegistryId>().is_err(), "{bad}");
        }
        assert!("a/b/c".parse::<ObjectKey>().is_err());
    }
}
