//! The state file of `mcpsync apply`/`delete`: what `status` would hold in a cluster (ids,
//! fingerprints, applied field names, times), so that a second run knows which remote
//! record is whose and which write-only values were sent. It holds `McpServerStatus`
//! only, which by contract never carries a secret value.
//!
//! It is written atomically (temporary file in the same folder, fsync, rename): a crash
//! mid-write leaves the previous state, because a lost id could mean a second remote record.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::McpServerStatus;

/// Where the state lives when `--state` is not given.
pub const DEFAULT_STATE_FILE: &str = ".mcpsync-state.yaml";

/// The only format version this build reads and writes.
pub const STATE_VERSION: u32 = 1;

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Format version; refused unless [`STATE_VERSION`].
    version: u32,
    /// Per McpServer, keyed `namespace/name` (see [`server_key`]).
    #[serde(default)]
    servers: BTreeMap<String, ServerState>,
}

/// What is remembered of one McpServer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerState {
    /// The status the McpServer would have in a cluster.
    pub status: McpServerStatus,
    /// `McpRegistry/ns/name` or `ClusterMcpRegistry/name`, for messages (e.g. which
    /// registry to delete from after the manifest changed).
    pub registry: String,
}

/// The state file could not be read or written. Names the file; the file is never
/// silently reset, since losing ids could create duplicate remote records.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading failed (other than the file being absent).
    #[error("state file {}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The content is not a state file.
    #[error(
        "state file {}: not a valid mcpsync state file ({message}); fix or move it away, it is never overwritten silently",
        path.display()
    )]
    Garbled { path: PathBuf, message: String },
    /// A version this build does not know.
    #[error(
        "state file {}: version {found} is not supported (this mcpsync writes version {STATE_VERSION})",
        path.display()
    )]
    Version { path: PathBuf, found: u32 },
    /// Writing failed; the previous file, if any, is unchanged.
    #[error("state file {}: cannot write: {source} (the previous state is unchanged)", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Serializing failed (not expected for this data).
    #[error("state file {}: cannot serialize: {message}", path.display())]
    Serialize { path: PathBuf, message: String },
}

/// The key of a McpServer in the state file: `namespace/name`.
pub fn server_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl Default for StateFile {
    fn default() -> Self {
        Self::new()
    }
}

impl StateFile {
    /// An empty state.
    pub fn new() -> Self {
        StateFile {
            version: STATE_VERSION,
            servers: BTreeMap::new(),
        }
    }

    /// Reads the state at `path`; a missing file is an empty state (first run).
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Self::new()),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let garbled = |message: String| StateError::Garbled {
            path: path.to_path_buf(),
            message,
        };
        if text.trim().is_empty() {
            return Err(garbled("the file is empty".to_string()));
        }
        let state: StateFile = serde_saphyr::from_str(&text)
            .map_err(|err| garbled(first_line(&err.without_snippet().to_string())))?;
        if state.version != STATE_VERSION {
            return Err(StateError::Version {
                path: path.to_path_buf(),
                found: state.version,
            });
        }
        Ok(state)
    }

    /// Writes the state to `path` atomically, readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let yaml = serde_saphyr::to_string(self).map_err(|err| StateError::Serialize {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        write_atomically(path, |file| file.write_all(yaml.as_bytes())).map_err(|source| {
            StateError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// The state of one McpServer (`namespace/name`).
    pub fn get(&self, key: &str) -> Option<&ServerState> {
        self.servers.get(key)
    }

    /// Records one McpServer's state, returning the previous one.
    pub fn insert(&mut self, key: String, state: ServerState) -> Option<ServerState> {
        self.servers.insert(key, state)
    }

    /// Forgets one McpServer, returning what was known.
    pub fn remove(&mut self, key: &str) -> Option<ServerState> {
        self.servers.remove(key)
    }

    /// Every McpServer, in key order.
    pub fn servers(&self) -> impl Iterator<Item = (&String, &ServerState)> {
        self.servers.iter()
    }

    /// Number of McpServers known.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether no McpServer is known.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_string()
}

/// Temp file in the target's folder (so the rename stays on one filesystem), mode 0600,
/// fsync, rename over the target, then fsync the folder so the rename itself is durable.
/// `write` fills the temporary file; any error leaves the target untouched.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".mcpsync-state.")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    restrict_to_owner(temp.as_file())?;
    write(temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|err| err.error)?;
    sync_dir(dir)
}

#[cfg(unix)]
fn restrict_to_owner(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_to_owner(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
