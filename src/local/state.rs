//! The state file of `mcpsync apply`/`delete`: what `status` would hold in a cluster (ids,
//! fingerprints, applied field names, times), so that a second run knows which remote
//! record is whose and which write-only values were sent. It holds `McpServerStatus`
//! only, which by contract never carries a secret value.
//!
//! It is written atomically (temporary file in the same folder, fsync, rename): a crash
//! mid-write leaves the previous state, because a lost id could mean a second remote record.
//! A state file that is a symbolic link is written through to its target; the link stays.

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
        let state: StateFile = serde_saphyr::from_str_with_options(&text, parse_options())
            .map_err(|err| garbled(first_line(&err.without_snippet().to_string())))?;
        if state.version != STATE_VERSION {
            return Err(StateError::Version {
                path: path.to_path_buf(),
                found: state.version,
            });
        }
        Ok(state)
    }

    /// Writes the state to `path` atomically, readable by the owner only. When `path` is
    /// a symbolic link (also a dangling one), the link's target is written and the link
    /// is left in place.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let write_error = |source| StateError::Write {
            path: path.to_path_buf(),
            source,
        };
        let target = resolve(path).map_err(write_error)?;
        self.save_resolved(path, &target)
    }

    /// [`save`](Self::save) to `target`, `path` already resolved; errors name `path`.
    fn save_resolved(&self, path: &Path, target: &Path) -> Result<(), StateError> {
        let yaml = serde_saphyr::to_string(self).map_err(|err| StateError::Serialize {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        write_atomically(target, |file| file.write_all(yaml.as_bytes())).map_err(|source| {
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

/// `path` with symbolic links followed, as far as they lead: the canonical path of an
/// existing file, else (absent file or dangling link) the last link's target, so that a
/// first save through a dangling link creates the target.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(resolved) => return Ok(resolved),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    // Linux's own limit on links followed in one lookup.
    const MAX_LINKS: usize = 40;
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = folder_of(&current).join(target);
            }
            Ok(_) => return Ok(current),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(err) => return Err(err),
        }
    }
    Err(std::io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links from {}",
        path.display()
    )))
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
    let dir = folder_of(path);
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

/// The folder a path lives in; `.` for a bare file name such as the default one.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
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

/// serde-saphyr's default budget (250,000 nodes) protects against hostile input but stops
/// at about 9,000 servers of our own state. The limits scale to a million servers (about
/// 25 nodes each) and still bound memory and time.
fn parse_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 40_000_000;
    budget.max_events = 80_000_000;
    budget.max_total_scalar_bytes = 2 << 30;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Availability, LastPatch, PendingCreate};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use sha2::{Digest, Sha256};

    const CANARY: &str = "CANARY-SECRET-4b1d9e";

    fn time(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    /// A status as the engine would write it after sending the canary as a header value:
    /// only its salted fingerprint is kept.
    fn canary_state() -> StateFile {
        let fingerprint = hex::encode(Sha256::digest(format!("salt:{CANARY}")));
        let status = McpServerStatus {
            observed_generation: Some(3),
            external_id: Some("7f0c-1234".to_string()),
            availability: Some(Availability::Unavailable),
            availability_message: Some("timeout: \"x\" # not a comment\nsecond line".to_string()),
            last_sync_time: Some(time("2026-11-22T15:00:00Z")),
            last_patch: Some(LastPatch {
                time: time("2026-11-22T15:00:01Z"),
                fields: vec!["headers.Authorization".to_string(), "yes".to_string()],
            }),
            applied_fields: vec!["url".to_string(), "headers".to_string()],
            applied_fingerprints: [(
                "headers.Authorization".to_string(),
                format!("sha256:{fingerprint}"),
            )]
            .into(),
            drift: vec!["123".to_string()],
            pending_create: Some(PendingCreate {
                name: "GitHub: team".to_string(),
                time: time("2026-11-22T14:59:59Z"),
            }),
            conditions: vec![Condition {
                type_: "Ready".to_string(),
                status: "False".to_string(),
                reason: "Unavailable".to_string(),
                message: "registry reports: null".to_string(),
                last_transition_time: time("2026-11-22T15:00:00Z"),
                observed_generation: Some(3),
            }],
            ..Default::default()
        };
        let mut state = StateFile::new();
        let registry = "McpRegistry/team-a/zudu".to_string();
        state.insert(
            server_key("team-a", "github"),
            ServerState { status, registry },
        );
        state
    }

    fn temp_files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn state_of_ten_thousand_servers_round_trips() {
        // Past serde-saphyr's default budget of 250,000 nodes.
        let one = canary_state()
            .get(&server_key("team-a", "github"))
            .unwrap()
            .clone();
        let mut state = StateFile::new();
        for i in 0..10_000 {
            state.insert(server_key("bench", &format!("srv-{i}")), one.clone());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        state.save(&path).unwrap();
        assert_eq!(StateFile::load(&path).unwrap(), state);
    }

    #[test]
    fn missing_file_is_an_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateFile::load(&dir.path().join(DEFAULT_STATE_FILE)).unwrap();
        assert!(state.is_empty());
    }

    #[test]
    fn save_then_load_round_trips_and_holds_no_secret_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_STATE_FILE);
        let state = canary_state();
        state.save(&path).unwrap();
        assert_eq!(StateFile::load(&path).unwrap(), state);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("version: 1\n"), "{text}");
        assert!(!text.contains(CANARY), "{text}");
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn saving_twice_gives_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        canary_state().save(&a).unwrap();
        canary_state().save(&b).unwrap();
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn saved_file_is_readable_by_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        std::fs::write(&path, "version: 1\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        canary_state().save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn failed_write_leaves_the_old_file_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        StateFile::new().save(&path).unwrap();
        let before = std::fs::read(&path).unwrap();
        let result = write_atomically(&path, |file| {
            file.write_all(b"version: 1\nservers:\n  half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn failed_rename_is_an_error_naming_the_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "x").unwrap();
        let err = canary_state().save(&path).unwrap_err();
        assert!(
            err.to_string().contains("state.yaml: cannot write"),
            "{err}"
        );
        assert!(path.join("keep").exists());
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn garbled_file_is_an_error_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        std::fs::write(&path, "servers: [not, a, map\n").unwrap();
        let err = StateFile::load(&path).unwrap_err();
        assert!(matches!(err, StateError::Garbled { .. }));
        assert!(err.to_string().contains("state.yaml"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "servers: [not, a, map\n"
        );
    }

    #[test]
    fn empty_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        std::fs::write(&path, "").unwrap();
        assert!(matches!(
            StateFile::load(&path),
            Err(StateError::Garbled { .. })
        ));
    }

    #[test]
    fn unknown_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        std::fs::write(&path, "version: 2\nservers: {}\n").unwrap();
        let err = StateFile::load(&path).unwrap_err();
        assert!(matches!(err, StateError::Version { found: 2, .. }), "{err}");
    }

    #[test]
    fn unreadable_path_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = StateFile::load(dir.path()).unwrap_err();
        assert!(matches!(err, StateError::Read { .. }), "{err}");
    }

    #[test]
    fn get_insert_remove_by_key() {
        let mut state = canary_state();
        let key = server_key("team-a", "github");
        assert_eq!(state.get(&key).unwrap().registry, "McpRegistry/team-a/zudu");
        let old = state.remove(&key).unwrap();
        assert!(state.get(&key).is_none());
        assert!(state.insert(key.clone(), old).is_none());
        assert_eq!(state.servers().count(), 1);
    }

    #[test]
    fn bare_file_name_is_written_through_the_current_folder() {
        assert_eq!(folder_of(Path::new(DEFAULT_STATE_FILE)), Path::new("."));
        assert_eq!(folder_of(Path::new("/a/b.yaml")), Path::new("/a"));
    }

    #[cfg(unix)]
    fn is_symlink(path: &Path) -> bool {
        std::fs::symlink_metadata(path)
            .unwrap()
            .file_type()
            .is_symlink()
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_state_file_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        std::fs::create_dir(&real_dir).unwrap();
        let target = real_dir.join("state.yaml");
        StateFile::new().save(&target).unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink("real/state.yaml", &link).unwrap();

        canary_state().save(&link).unwrap();
        assert!(is_symlink(&link));
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("real/state.yaml")
        );
        assert_eq!(StateFile::load(&target).unwrap(), canary_state());
        assert_eq!(StateFile::load(&link).unwrap(), canary_state());
        assert!(temp_files(dir.path()).is_empty());
        assert!(temp_files(&real_dir).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn dangling_symlink_is_saved_by_creating_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.yaml");
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(StateFile::load(&link).unwrap().is_empty());
        canary_state().save(&link).unwrap();
        assert!(is_symlink(&link));
        assert_eq!(StateFile::load(&target).unwrap(), canary_state());
    }
}
