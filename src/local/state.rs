//! The state file of `mcpsync apply`/`delete`: what `status` would hold in a cluster (ids,
//! fingerprints, applied field names, times), so that a second run knows which remote
//! record is whose and which write-only values were sent. It holds `McpServerStatus`
//! only, which by contract never carries a secret value.
//!
//! It is written atomically (temporary file in the same folder, fsync, rename): a crash
//! mid-write leaves the previous state, because a lost id could mean a second remote record.
//! A state file that is a symbolic link is written through to its target; the link stays.
//!
//! Two runs on one state file at once could each create the same remote record, so a run
//! holds a [`StateLock`] (see [`lock`]) from its load to its final save. The lock is an OS
//! file lock on a sidecar file next to the resolved state file, `<state file>.lock`: the
//! state file itself is replaced by a rename on every save, so a lock on it would be lost.

use std::collections::BTreeMap;
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
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
    /// registry to delete from after the manifest changed); absent when the server's
    /// registry was not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The spec last applied (it holds no secret value: Secrets are only referenced), so
    /// that `apply --prune` can honour the `deletionPolicy` of a server whose manifest is
    /// gone. Absent in entries written before it existed: they are pruned as `Retain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<crate::api::McpServerSpec>,
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
    /// Another process holds the state file's lock and the caller chose not to wait.
    /// `pid` is what the holder wrote into the lock file; `None` when it could not be
    /// read (e.g. the holder had not written it yet).
    #[error(
        "state file {} is in use by another mcpsync run ({}); wait for it to finish or pass --wait",
        path.display(),
        holder(pid)
    )]
    Locked { path: PathBuf, pid: Option<u32> },
    /// The lock file could not be created or locked (not: held by another process).
    #[error("state file {}: cannot lock {}: {source}", path.display(), lock_path.display())]
    Lock {
        path: PathBuf,
        lock_path: PathBuf,
        source: std::io::Error,
    },
}

/// Exclusive use of one state file by this process, from [`lock`] until the value is
/// dropped. The OS releases the lock when the process ends, however it ends, so a crashed
/// run never leaves a state file locked.
///
/// Holds an open handle on the sidecar `<state file>.lock` next to the state file's
/// resolved path (symbolic links followed), so that runs through different links to one
/// file exclude each other. The sidecar holds the holder's pid while locked and is left
/// in place afterwards: removing it could let a waiter lock a file that no longer has a
/// name while a third run locks a new one.
#[derive(Debug)]
pub struct StateLock {
    /// The state file as given to [`lock`], for messages.
    path: PathBuf,
    /// The state file with symbolic links followed: where saves go.
    resolved: PathBuf,
    lock_path: PathBuf,
    /// Locked handle on `lock_path`; closing it releases the lock.
    file: File,
}

/// `pid 1234`, or `pid unknown`, for [`StateError::Locked`].
fn holder(pid: &Option<u32>) -> String {
    match pid {
        Some(pid) => format!("pid {pid}"),
        None => "pid unknown".to_string(),
    }
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
    ///
    /// Takes no lock: a run that may write remote records holds a [`StateLock`] from its
    /// load to its final save (see [`lock`]).
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

/// Locks the state file at `path` for this process (see [`StateLock`]).
///
/// When another process holds the lock: with `wait` false, fails at once with
/// [`StateError::Locked`], naming the holder's pid; with `wait` true, blocks the calling
/// thread until the lock is free (from async code, call it in `spawn_blocking`). To tell
/// the user before waiting, call it with `false` first, show the error, then with `true`.
///
/// The state file need not exist yet. The lock is exclusive also between two handles
/// in one process (flock semantics on Unix), so locking twice without dropping the
/// first lock fails, or with `wait` never returns.
pub fn lock(path: &Path, wait: bool) -> Result<StateLock, StateError> {
    let lock_error = |lock_path: &Path, source| StateError::Lock {
        path: path.to_path_buf(),
        lock_path: lock_path.to_path_buf(),
        source,
    };
    let resolved = resolve(path).map_err(|source| lock_error(&lock_path_of(path), source))?;
    let lock_path = lock_path_of(&resolved);
    let mut file = open_lock_file(&lock_path).map_err(|source| lock_error(&lock_path, source))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) if !wait => {
            return Err(StateError::Locked {
                path: path.to_path_buf(),
                pid: read_pid(&file),
            });
        }
        Err(TryLockError::WouldBlock) => {
            file.lock()
                .map_err(|source| lock_error(&lock_path, source))?;
        }
        Err(TryLockError::Error(source)) => return Err(lock_error(&lock_path, source)),
    }
    write_pid(&mut file).map_err(|source| lock_error(&lock_path, source))?;
    Ok(StateLock {
        path: path.to_path_buf(),
        resolved,
        lock_path,
        file,
    })
}

impl StateLock {
    /// The state file as given to [`lock`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state file with symbolic links followed: the file that is read and replaced.
    pub fn resolved_path(&self) -> &Path {
        &self.resolved
    }

    /// The sidecar lock file, `<resolved state file>.lock`.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// [`StateFile::load`] of the locked file.
    pub fn load(&self) -> Result<StateFile, StateError> {
        StateFile::load(&self.resolved).map_err(|err| self.renamed(err))
    }

    /// [`StateFile::save`] to the locked file (the target the link pointed at when the
    /// lock was taken, should the state file be a symbolic link).
    pub fn save(&self, state: &StateFile) -> Result<(), StateError> {
        state.save_resolved(&self.path, &self.resolved)
    }

    /// Errors of the resolved file name the path the user gave.
    fn renamed(&self, err: StateError) -> StateError {
        let path = self.path.clone();
        match err {
            StateError::Read { source, .. } => StateError::Read { path, source },
            StateError::Garbled { message, .. } => StateError::Garbled { path, message },
            StateError::Version { found, .. } => StateError::Version { path, found },
            other => other,
        }
    }
}

impl Drop for StateLock {
    /// Clears the pid (best effort) while still holding the lock, so that a later
    /// refusal never names a finished run; closing the handle then releases the lock.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
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

/// `<file>.lock` in the same folder.
fn lock_path_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Opens (creating, owner-only) the lock file without truncating it: a holder's pid
/// must survive until this process has the lock.
fn open_lock_file(lock_path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(lock_path)
}

/// Replaces the lock file's content with this process's pid and a newline.
fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())?;
    file.flush()
}

/// The pid the holder wrote, if it can be read yet.
fn read_pid(file: &File) -> Option<u32> {
    let mut reader = file;
    reader.rewind().ok()?;
    let mut text = String::new();
    reader.take(64).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
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
            ServerState {
                status,
                registry: Some(registry),
                spec: None,
            },
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
        assert_eq!(
            state.get(&key).unwrap().registry.as_deref(),
            Some("McpRegistry/team-a/zudu")
        );
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

    /// The pid in a lock file, as a refused run would read it.
    fn pid_in(lock_path: &Path) -> String {
        std::fs::read_to_string(lock_path).unwrap()
    }

    #[test]
    fn lock_file_is_a_sidecar_holding_the_pid_and_cleared_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        let held = lock(&path, false).unwrap();
        assert_eq!(held.lock_path(), dir.path().join("state.yaml.lock"));
        assert_eq!(
            pid_in(held.lock_path()),
            format!("{}\n", std::process::id())
        );
        assert!(!path.exists(), "locking creates no state file");
        let lock_path = held.lock_path().to_path_buf();
        drop(held);
        assert!(lock_path.exists(), "the sidecar stays");
        assert_eq!(pid_in(&lock_path), "");
    }

    #[cfg(unix)]
    #[test]
    fn lock_file_is_readable_by_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let held = lock(&dir.path().join("state.yaml"), false).unwrap();
        let mode = std::fs::metadata(held.lock_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn second_lock_without_wait_fails_naming_the_file_and_the_holders_pid() {
        // flock(2) locks belong to the open file description, so a second open in the
        // same process conflicts just as another process would.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        let held = lock(&path, false).unwrap();
        let err = lock(&path, false).unwrap_err();
        let pid = std::process::id();
        assert!(
            matches!(err, StateError::Locked { pid: Some(p), .. } if p == pid),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("state.yaml is in use by another mcpsync run"),
            "{message}"
        );
        assert!(message.contains(&format!("(pid {pid})")), "{message}");
        assert!(message.contains("--wait"), "{message}");
        assert_eq!(
            pid_in(held.lock_path()),
            format!("{pid}\n"),
            "refusal keeps the pid"
        );
        drop(held);
        assert!(lock(&path, false).is_ok(), "free again once dropped");
    }

    #[test]
    fn unreadable_pid_is_reported_as_unknown() {
        let err = StateError::Locked {
            path: PathBuf::from("s.yaml"),
            pid: None,
        };
        assert!(err.to_string().contains("(pid unknown)"), "{err}");
    }

    #[test]
    fn lock_with_wait_blocks_until_the_holder_drops_it() {
        use std::sync::mpsc;
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        let held = lock(&path, false).unwrap();
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                let second = lock(&path, true);
                tx.send(()).unwrap();
                second.map(|l| pid_in(l.lock_path()))
            })
        };
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "the waiter got the lock while it was held"
        );
        drop(held);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the waiter gets the lock once it is dropped");
        let pid = waiter.join().unwrap().unwrap();
        assert_eq!(pid, format!("{}\n", std::process::id()));
    }

    #[test]
    fn locked_state_loads_and_saves_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        let held = lock(&path, false).unwrap();
        assert!(held.load().unwrap().is_empty());
        held.save(&canary_state()).unwrap();
        assert_eq!(held.load().unwrap(), canary_state());
        assert_eq!(StateFile::load(&path).unwrap(), canary_state());
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

    #[cfg(unix)]
    #[test]
    fn lock_through_a_symlink_locks_and_saves_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        std::fs::create_dir(&real_dir).unwrap();
        let target = real_dir.join("state.yaml");
        StateFile::new().save(&target).unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink("real/state.yaml", &link).unwrap();

        let held = lock(&link, false).unwrap();
        assert_eq!(held.path(), link);
        assert_eq!(held.resolved_path(), target.canonicalize().unwrap());
        assert_eq!(
            held.lock_path(),
            real_dir.canonicalize().unwrap().join("state.yaml.lock")
        );
        held.save(&canary_state()).unwrap();
        assert!(is_symlink(&link));
        assert_eq!(StateFile::load(&target).unwrap(), canary_state());
        assert_eq!(held.load().unwrap(), canary_state());
    }

    #[cfg(unix)]
    #[test]
    fn lock_through_a_dangling_symlink_locks_next_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.yaml");
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let held = lock(&link, false).unwrap();
        assert_eq!(held.lock_path(), dir.path().join("target.yaml.lock"));
        assert!(held.load().unwrap().is_empty());
        held.save(&canary_state()).unwrap();
        assert!(is_symlink(&link));
        assert_eq!(StateFile::load(&target).unwrap(), canary_state());
    }

    #[cfg(unix)]
    #[test]
    fn two_links_to_one_file_share_one_lock() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("state.yaml");
        StateFile::new().save(&target).unwrap();
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        std::os::unix::fs::symlink(&target, &a).unwrap();
        std::os::unix::fs::symlink("state.yaml", &b).unwrap();
        let held = lock(&a, false).unwrap();
        let err = lock(&b, false).unwrap_err();
        assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
        assert!(
            err.to_string().contains("b.yaml"),
            "names the path given: {err}"
        );
        assert!(matches!(
            lock(&target, false),
            Err(StateError::Locked { .. })
        ));
        drop(held);
        assert!(lock(&b, false).is_ok());
    }

    #[test]
    fn lock_in_a_missing_folder_is_a_lock_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = lock(&dir.path().join("nope/state.yaml"), false).unwrap_err();
        assert!(matches!(err, StateError::Lock { .. }), "{err:?}");
        assert!(err.to_string().contains("state.yaml.lock"), "{err}");
    }
}
