//! Reading manifest files for the cluster-less mode: the objects `kubectl apply -f` would
//! send, kept in memory with the file and document they came from so that every later
//! message can point at the line a person has to fix.
//!
//! Secrets pass through here too. Their values go straight into a [`SecretStore`]; no error
//! of this module quotes a Secret document, not even a syntax error.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Secret;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::secrets::SecretStore;
use crate::api::registry::RegistryConnection;
use crate::api::{ClusterMcpRegistry, McpRegistry, McpServer};

/// The namespace kubectl gives namespaced objects that name none.
pub use crate::reconcile::refs::DEFAULT_NAMESPACE;

/// `apiVersion` of the mcpsync kinds.
const MCPSYNC_API_VERSION: &str = "mcpsync.dev/v1alpha1";

/// Where an object was read: file, 1-based document number, and 1-based item number
/// inside a `kind: List`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file (`-` for standard input).
    pub file: PathBuf,
    /// The document inside the file, counting from 1 and skipping empty documents.
    pub document: usize,
    /// The item of a `kind: List`, counting from 1.
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, document {}", self.file.display(), self.document)?;
        match self.item {
            Some(item) => write!(f, ", item {item}"),
            None => Ok(()),
        }
    }
}

/// An object and where it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    /// The object, with `metadata.namespace` filled in for namespaced kinds.
    pub object: T,
    /// Where it came from, for messages.
    pub origin: Origin,
}

/// Everything the files held that mcpsync uses. Each list keeps file order.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// The McpServers.
    pub servers: Vec<Loaded<McpServer>>,
    /// The namespaced registries.
    pub registries: Vec<Loaded<McpRegistry>>,
    /// The cluster-scoped registries.
    pub cluster_registries: Vec<Loaded<ClusterMcpRegistry>>,
    /// Values of the `v1/Secret` objects.
    pub secrets: SecretStore,
    /// One line per document of another kind, e.g. `a.yaml, document 3: apps/v1 Deployment skipped`.
    pub skipped: Vec<String>,
    /// Objects the API server would refuse, each with every reason (see [`load_all`]).
    pub invalid: Vec<Invalid>,
    /// Documents (and List items) read, of any kind.
    pub documents: usize,
}

/// One reason the API server would refuse an object: where, which object, which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub file: PathBuf,
    /// The file line of the field when it can be found, else of the document.
    pub line: u64,
    /// `Kind namespace/name`.
    pub object: String,
    /// `spec.field: what is wrong`, as the API server words it.
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.object,
            self.message
        )
    }
}

/// Why the manifests could not be read. Messages name the file, the document and the
/// field; none quotes a Secret's content.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or folder could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file is larger than [`MAX_MANIFEST_BYTES`].
    #[error("{}: larger than {} MiB; not a manifest", path.display(), MAX_MANIFEST_BYTES / 1024 / 1024)]
    TooLarge { path: PathBuf },
    /// A file is not UTF-8.
    #[error("{}: not UTF-8 text", path.display())]
    NotText { path: PathBuf },
    /// A document is not valid YAML or JSON.
    #[error("{origin}: invalid {format} at line {line}, column {column}: {message}")]
    Syntax {
        origin: Origin,
        format: &'static str,
        line: u64,
        column: u64,
        message: String,
    },
    /// A document is not a Kubernetes object (no `apiVersion`/`kind`/`metadata.name`).
    #[error("{origin}: {message}")]
    NotAnObject { origin: Origin, message: String },
    /// A field of a known kind is wrong.
    #[error("{origin}{} ({kind} {name:?}): {field}: {message}", line_note(.line))]
    Field {
        origin: Box<Origin>,
        /// File line of the fault, when the YAML parser could place it.
        line: Option<u64>,
        kind: String,
        name: String,
        field: String,
        message: String,
    },
    /// Objects the API server would refuse (every reason, one per line).
    #[error("{} error(s): the API server would refuse these objects:\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Invalid>),
    /// Nothing to read: no manifest documents under the paths given.
    #[error(
        "no manifests in {paths}: an empty folder or a file of comments is an error, not \"nothing to do\""
    )]
    Empty { paths: String },
    /// The same object appears twice.
    #[error("{kind} {key} is defined twice: in {first} and in {second}")]
    Duplicate {
        kind: String,
        key: String,
        first: Box<Origin>,
        second: Box<Origin>,
    },
}

/// Reads every manifest under `paths`: files as given (whatever their extension; `-` is
/// standard input) and folders recursively (`*.yaml`, `*.yml`, `*.json`, hidden entries
/// skipped), in sorted order so that every run sees the same sequence.
pub fn load(paths: &[PathBuf]) -> Result<Manifests, LoadError> {
    let manifests = load_all(paths)?;
    if !manifests.invalid.is_empty() {
        return Err(LoadError::Invalid(manifests.invalid));
    }
    Ok(manifests)
}

/// Like [`load`], but objects the API server would refuse are listed in
/// [`Manifests::invalid`] (all of them, every reason) instead of failing the load.
pub fn load_all(paths: &[PathBuf]) -> Result<Manifests, LoadError> {
    let manifests = read_all(paths)?;
    if manifests.documents == 0 {
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(LoadError::Empty {
            paths: paths.join(", "),
        });
    }
    Ok(manifests)
}

fn read_all(paths: &[PathBuf]) -> Result<Manifests, LoadError> {
    let mut loader = Loader::default();
    let mut read = std::collections::BTreeSet::new();
    for path in paths {
        for file in expand(path)? {
            // `-f dir -f dir/a.yaml` names a file twice; reading it once avoids a bogus
            // duplicate-object error.
            let identity = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if !read.insert(identity) {
                continue;
            }
            let text = read_text(&file)?;
            loader.file(&file, &text)?;
        }
    }
    Ok(loader.manifests)
}

/// The files one command-line path stands for.
fn expand(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    if path == Path::new("-") {
        return Ok(vec![path.to_path_buf()]);
    }
    let meta = std::fs::metadata(path).map_err(|source| read_error(path, source))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    walk(path, &mut files)?;
    files.sort();
    Ok(files)
}

/// Collects manifest files below `dir`. Symbolic links to folders are not followed, so a
/// link loop cannot make `load` run forever.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| read_error(dir, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| read_error(dir, source))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|source| read_error(&path, source))?;
        if kind.is_dir() {
            walk(&path, files)?;
        } else if is_manifest_name(&path) && !is_link_to_dir(&path, kind) {
            files.push(path);
        }
    }
    Ok(())
}

fn is_link_to_dir(path: &Path, kind: std::fs::FileType) -> bool {
    kind.is_symlink() && path.is_dir()
}

fn is_manifest_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn read_error(path: &Path, source: std::io::Error) -> LoadError {
    LoadError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// Largest manifest file (or standard input) read: far above any real manifest, and a
/// bound on memory for `-f /dev/zero`.
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

fn read_text(path: &Path) -> Result<String, LoadError> {
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin()
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut bytes))
    };
    read.map_err(|source| read_error(path, source))?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| LoadError::NotText {
        path: path.to_path_buf(),
    })?;
    // Editors on some systems start files with a byte-order mark; it is not content.
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// One document's text, its number and the file line it starts on.
struct RawDoc<'a> {
    number: usize,
    first_line: u64,
    text: &'a str,
}

/// Splits a YAML stream at its `---` lines. Doing it here rather than in the parser keeps
/// the document numbers a person counts in the file, and lets a broken document be
/// reported without losing track of the others.
fn split_documents(text: &str) -> Vec<RawDoc<'_>> {
    let mut starts = vec![(0usize, 1u64)];
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if index > 0 && is_document_marker(line) {
            starts.push((offset, index as u64 + 1));
        }
        offset += line.len();
    }
    let mut docs = Vec::new();
    for (i, &(start, first_line)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(text.len(), |s| s.0);
        let chunk = &text[start..end];
        if has_content(chunk) {
            let number = docs.len() + 1;
            docs.push(RawDoc {
                number,
                first_line,
                text: chunk,
            });
        }
    }
    docs
}

fn is_document_marker(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

/// Whether a document holds anything besides markers, comments and blank lines.
fn has_content(chunk: &str) -> bool {
    chunk.lines().any(|line| {
        let line = if is_document_marker(line) {
            &line[3..]
        } else {
            line
        };
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#') && line != "..."
    })
}

/// The loader's state: what was read so far and where each object came from.
#[derive(Default)]
struct Loader {
    manifests: Manifests,
    seen: BTreeMap<(String, String), Origin>,
    /// The document being read: its first file line and text, to place field errors.
    current: (u64, String),
}

impl Loader {
    fn file(&mut self, path: &Path, text: &str) -> Result<(), LoadError> {
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            let origin = origin(path, 1, None);
            let value = parse_json(text, &origin)?;
            self.current = (1, text.to_string());
            return self.value(value, origin);
        }
        for doc in split_documents(text) {
            let origin = origin(path, doc.number, None);
            let value = parse_yaml(&doc, &origin)?;
            self.current = (doc.first_line, doc.text.to_string());
            self.value(value, origin)
                .map_err(|err| with_line(err, &doc))?;
        }
        Ok(())
    }

    /// Dispatches one parsed document (or List item) by apiVersion and kind.
    fn value(&mut self, mut value: Value, origin: Origin) -> Result<(), LoadError> {
        let (api_version, kind) = type_of(&value, &origin)?;
        if kind != "List" {
            self.manifests.documents += 1;
        }
        if api_version == MCPSYNC_API_VERSION
            && matches!(
                kind.as_str(),
                "McpServer" | "McpRegistry" | "ClusterMcpRegistry"
            )
            && !self.admissible(&mut value, &origin, &kind)?
        {
            return Ok(());
        }
        match (api_version.as_str(), kind.as_str()) {
            (MCPSYNC_API_VERSION, "McpServer") => {
                let object = self.typed::<McpServer>(value, &origin, &kind, true)?;
                self.manifests.servers.push(Loaded { object, origin });
            }
            (MCPSYNC_API_VERSION, "McpRegistry") => {
                let object = self.typed::<McpRegistry>(value, &origin, &kind, true)?;
                self.manifests.registries.push(Loaded { object, origin });
            }
            (MCPSYNC_API_VERSION, "ClusterMcpRegistry") => {
                let object = self.typed::<ClusterMcpRegistry>(value, &origin, &kind, false)?;
                let loaded = Loaded { object, origin };
                self.manifests.cluster_registries.push(loaded);
            }
            ("v1", "Secret") => self.secret(value, origin)?,
            ("v1", "List") => self.list(value, origin)?,
            (v, k) if v.starts_with("mcpsync.dev/") => {
                return Err(LoadError::NotAnObject {
                    message: format!(
                        "{v} {k} is not a kind this mcpsync knows (expected {MCPSYNC_API_VERSION} McpServer, McpRegistry or ClusterMcpRegistry)"
                    ),
                    origin,
                });
            }
            (v, k) => self
                .manifests
                .skipped
                .push(format!("{origin}: {v} {k} skipped")),
        }
        Ok(())
    }

    /// Judges an mcpsync object as the API server would (`crate::validate`); records every
    /// reason it would be refused and returns false then.
    fn admissible(
        &mut self,
        value: &mut Value,
        origin: &Origin,
        kind: &str,
    ) -> Result<bool, LoadError> {
        let namespaced = kind != "ClusterMcpRegistry";
        let key = object_key(value, origin, namespaced)?;
        let errors = crate::validate::object_errors(value);
        let (first_line, text) = &self.current;
        for message in errors.iter().map(|m| m.trim_start_matches('.')) {
            self.manifests.invalid.push(Invalid {
                file: origin.file.clone(),
                line: field_line(*first_line, text, message),
                object: format!("{kind} {key}"),
                message: message.to_string(),
            });
        }
        Ok(errors.is_empty())
    }

    fn list(&mut self, mut value: Value, origin: Origin) -> Result<(), LoadError> {
        let items = match value.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(not_an_object(origin, "items of a List must be a list")),
        };
        for (index, item) in items.into_iter().enumerate() {
            let item_origin = Origin {
                item: Some(index + 1),
                ..origin.clone()
            };
            self.value(item, item_origin)?;
        }
        Ok(())
    }

    /// Deserializes a known kind, defaulting the namespace and refusing duplicates.
    fn typed<T>(
        &mut self,
        mut value: Value,
        origin: &Origin,
        kind: &str,
        namespaced: bool,
    ) -> Result<T, LoadError>
    where
        T: DeserializeOwned,
    {
        let key = object_key(&mut value, origin, namespaced)?;
        let flattened = kind == "McpRegistry" || kind == "ClusterMcpRegistry";
        let spec = value.get("spec").filter(|_| flattened).cloned();
        let object = serde_path_to_error::deserialize(value).map_err(|err| {
            let (field, message) = precise_error(err, spec);
            LoadError::Field {
                origin: Box::new(origin.clone()),
                line: None,
                kind: kind.to_string(),
                name: key.rsplit('/').next().unwrap_or_default().to_string(),
                field,
                message,
            }
        })?;
        self.remember(kind, key, origin)?;
        Ok(object)
    }

    /// A Secret goes into the store. Its errors name the field, never the content.
    fn secret(&mut self, mut value: Value, origin: Origin) -> Result<(), LoadError> {
        let key = object_key(&mut value, &origin, true)?;
        let secret: Secret = serde_path_to_error::deserialize(value).map_err(|err| {
            LoadError::Field {
                origin: Box::new(origin.clone()),
                line: None,
                kind: "Secret".to_string(),
                name: key.rsplit('/').next().unwrap_or_default().to_string(),
                field: err.path().to_string(),
                message: "invalid value (not shown: Secret content); data values must be base64 strings, stringData values strings".to_string(),
            }
        })?;
        self.remember("Secret", key, &origin)?;
        self.manifests.secrets.insert_secret(&secret);
        Ok(())
    }

    fn remember(&mut self, kind: &str, key: String, origin: &Origin) -> Result<(), LoadError> {
        let slot = (kind.to_string(), key.clone());
        if let Some(first) = self.seen.get(&slot) {
            return Err(LoadError::Duplicate {
                kind: kind.to_string(),
                key,
                first: Box::new(first.clone()),
                second: Box::new(origin.clone()),
            });
        }
        self.seen.insert(slot, origin.clone());
        Ok(())
    }
}

/// The file line of the field a message names (`spec.headers[0].name: ...` -> the first
/// `name:` after `headers:`), else the document's first line.
fn field_line(first_line: u64, text: &str, message: &str) -> u64 {
    let path = message
        .trim_start_matches('.')
        .split([':', ' '])
        .next()
        .unwrap_or_default();
    let mut line = 0usize;
    let lines: Vec<&str> = text.lines().collect();
    for segment in path.split('.').skip(1) {
        let key = segment.split('[').next().unwrap_or_default();
        if key.is_empty() {
            continue;
        }
        let found = lines.iter().enumerate().skip(line).find(|(_, l)| {
            let t = l
                .trim_start()
                .trim_start_matches("- ")
                .trim_start_matches('{');
            t.starts_with(&format!("{key}:"))
                || l.contains(&format!(" {key}:"))
                || l.contains(&format!("{{{key}:"))
        });
        match found {
            Some((i, _)) => line = i,
            None => break,
        }
    }
    first_line + line as u64
}

fn line_note(line: &Option<u64>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

/// Adds the file line to a field error of a whole YAML document. The field path comes
/// from the JSON view of the document; the line from parsing the text again as the typed
/// object, which only happens on this error path.
fn with_line(err: LoadError, doc: &RawDoc<'_>) -> LoadError {
    match err {
        LoadError::Field {
            origin,
            line: None,
            kind,
            name,
            field,
            message,
        } if origin.item.is_none() => LoadError::Field {
            line: typed_error_line(&kind, doc),
            origin,
            kind,
            name,
            field,
            message,
        },
        other => other,
    }
}

fn typed_error_line(kind: &str, doc: &RawDoc<'_>) -> Option<u64> {
    let text = doc.text;
    let err = match kind {
        "McpServer" => serde_saphyr::from_str::<McpServer>(text).err(),
        "McpRegistry" => serde_saphyr::from_str::<McpRegistry>(text).err(),
        "ClusterMcpRegistry" => serde_saphyr::from_str::<ClusterMcpRegistry>(text).err(),
        "Secret" => serde_saphyr::from_str::<Secret>(text).err(),
        _ => None,
    }?;
    let line = err.location()?.line();
    (line > 0).then(|| line + doc.first_line - 1)
}

/// Path and message of a deserialization error. The registries' `spec` flattens the
/// connection settings, and serde loses the path inside a flattened struct; deserializing
/// the connection alone finds it again (`spec.provider.zudu` rather than `spec`).
fn precise_error(
    err: serde_path_to_error::Error<serde_json::Error>,
    spec: Option<Value>,
) -> (String, String) {
    let path = err.path().to_string();
    if path == "spec"
        && let Some(spec) = spec
        && let Err(inner) = serde_path_to_error::deserialize::<_, RegistryConnection>(spec)
    {
        let field = match inner.path().to_string().as_str() {
            "." => "spec".to_string(),
            inner_path => format!("spec.{inner_path}"),
        };
        return (field, inner.inner().to_string());
    }
    (path, err.inner().to_string())
}

fn origin(path: &Path, document: usize, item: Option<usize>) -> Origin {
    Origin {
        file: path.to_path_buf(),
        document,
        item,
    }
}

fn not_an_object(origin: Origin, message: &str) -> LoadError {
    LoadError::NotAnObject {
        origin,
        message: message.to_string(),
    }
}

/// `apiVersion` and `kind` of a document, which must both be strings.
fn type_of(value: &Value, origin: &Origin) -> Result<(String, String), LoadError> {
    if !value.is_object() {
        return Err(not_an_object(
            origin.clone(),
            "not a Kubernetes object (expected a mapping with apiVersion and kind)",
        ));
    }
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    match (field("apiVersion"), field("kind")) {
        (Some(api_version), Some(kind)) => Ok((api_version, kind)),
        (None, _) => Err(not_an_object(origin.clone(), "apiVersion is missing")),
        (_, None) => Err(not_an_object(origin.clone(), "kind is missing")),
    }
}

/// `namespace/name` (or `name` for cluster-scoped kinds), after giving a namespaced object
/// without namespace the `default` one, as kubectl does.
fn object_key(value: &mut Value, origin: &Origin, namespaced: bool) -> Result<String, LoadError> {
    let metadata = value
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| not_an_object(origin.clone(), "metadata is missing"))?;
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| not_an_object(origin.clone(), "metadata.name is missing"))?
        .to_string();
    if !namespaced {
        return Ok(name);
    }
    let namespace = metadata
        .entry("namespace")
        .or_insert_with(|| Value::String(DEFAULT_NAMESPACE.to_string()));
    if namespace.is_null() {
        *namespace = Value::String(DEFAULT_NAMESPACE.to_string());
    }
    match namespace.as_str() {
        Some(ns) => Ok(format!("{ns}/{name}")),
        None => Err(not_an_object(
            origin.clone(),
            "metadata.namespace must be a string",
        )),
    }
}

/// Parses one YAML document. A syntax error keeps its position (moved to file lines) but
/// not the parser's snippet of the source, which could be a Secret's value.
fn parse_yaml(doc: &RawDoc<'_>, origin: &Origin) -> Result<Value, LoadError> {
    serde_saphyr::from_str::<Value>(doc.text).map_err(|err| {
        let (line, column) = err.location().map_or((0, 0), |l| (l.line(), l.column()));
        LoadError::Syntax {
            origin: origin.clone(),
            format: "YAML",
            line: line + doc.first_line - 1,
            column,
            message: syntax_message(&err, doc.text),
        }
    })
}

/// The parser's message without its source snippet; for a document that looks like a
/// Secret, a generic one, since a parser message may quote the text it stumbled on.
fn syntax_message(err: &serde_saphyr::Error, text: &str) -> String {
    if looks_like_secret(text) {
        return SECRET_WITHHELD.to_string();
    }
    let options = serde_saphyr::render_options! {
        formatter: &serde_saphyr::UserMessageFormatter,
        snippets: serde_saphyr::SnippetMode::Off,
    };
    let message = err.render_with_options(options);
    // The position is given in file lines by the caller; the parser's own is per document.
    without_position(message.lines().next().unwrap_or_default())
}

/// What a syntax error in a possible Secret says instead of the parser's message.
const SECRET_WITHHELD: &str =
    "the document could not be parsed (details withheld: it may be a Secret)";

/// A parser message without its trailing ` at line L, column C` / ` at line L column C`.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_string(),
        None => message.to_string(),
    }
}

/// Whether a document that did not parse may be a Secret. Deliberately coarse: a false
/// positive costs a less precise message, a false negative could print a credential.
fn looks_like_secret(text: &str) -> bool {
    text.contains("Secret")
}

fn parse_json(text: &str, origin: &Origin) -> Result<Value, LoadError> {
    serde_json::from_str(text).map_err(|err| {
        let message = if looks_like_secret(text) {
            SECRET_WITHHELD.to_string()
        } else {
            without_position(&err.to_string())
        };
        LoadError::Syntax {
            origin: origin.clone(),
            format: "JSON",
            line: err.line() as u64,
            column: err.column() as u64,
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::ResourceExt;
    use std::fs;

    const SERVER: &str = "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata:
  name: github
  namespace: team-a
spec:
  registryRef: {name: zudu}
  transport: StreamableHttp
";

    const REGISTRY: &str = "apiVersion: mcpsync.dev/v1alpha1
kind: McpRegistry
metadata:
  name: zudu
spec:
  provider:
    zudu:
      apiKeySecretRef: {name: zudu-creds, key: api-key}
      apiSecretSecretRef: {name: zudu-creds, key: api-secret}
";

    const CLUSTER_REGISTRY: &str = "apiVersion: mcpsync.dev/v1alpha1
kind: ClusterMcpRegistry
metadata:
  name: composio-prod
spec:
  provider:
    composio:
      apiKeySecretRef: {name: composio-api, key: api-key, namespace: mcpsync-system}
  allowedNamespaces: [team-a]
";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, text).unwrap();
        path
    }

    fn load_text(text: &str) -> Result<Manifests, LoadError> {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "all.yaml", text);
        load(&[path])
    }

    fn error_text(text: &str) -> String {
        load_text(text).unwrap_err().to_string()
    }

    #[test]
    fn multi_document_file_yields_every_kind_and_defaults_namespace() {
        let text = format!(
            "{SERVER}---\n{REGISTRY}---\n{CLUSTER_REGISTRY}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: zudu-creds}}\nstringData: {{api-key: k}}\n"
        );
        let m = load_text(&text).unwrap();
        assert_eq!(m.servers.len(), 1);
        assert_eq!(m.servers[0].object.namespace().as_deref(), Some("team-a"));
        assert_eq!(
            m.registries[0].object.namespace().as_deref(),
            Some("default")
        );
        assert_eq!(m.registries[0].origin.document, 2);
        assert_eq!(m.cluster_registries[0].object.name_any(), "composio-prod");
        assert!(m.secrets.contains("default", "zudu-creds"));
        assert!(m.skipped.is_empty());
    }

    #[test]
    fn other_kinds_are_skipped_with_a_note() {
        let text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\n---\n{SERVER}"
        );
        let m = load_text(&text).unwrap();
        assert_eq!(m.servers.len(), 1);
        assert_eq!(m.skipped.len(), 1);
        assert!(m.skipped[0].contains("document 1: apps/v1 Deployment skipped"));
    }

    #[test]
    fn empty_documents_and_comments_do_not_count() {
        let text = format!("# header\n---\n---\n# only a comment\n---\n{SERVER}---\n{REGISTRY}");
        let m = load_text(&text).unwrap();
        assert_eq!(m.servers[0].origin.document, 1);
        assert_eq!(m.registries[0].origin.document, 2);
    }

    #[test]
    fn field_error_names_file_document_object_and_field() {
        let bad = SERVER.replace("StreamableHttp", "Grpc");
        let text = format!("{REGISTRY}---\n{bad}");
        let err = error_text(&text);
        assert!(
            err.contains(
                "all.yaml:18: McpServer team-a/github: spec.transport: Unsupported value \"Grpc\""
            ),
            "{err}"
        );
        assert!(err.contains("StreamableHttp"), "{err}");
    }

    #[test]
    fn syntax_error_gives_the_file_line() {
        let text = format!("{REGISTRY}---\nkind: [unclosed\n");
        let err = load_text(&text).unwrap_err();
        match &err {
            LoadError::Syntax {
                origin,
                line,
                column,
                message,
                ..
            } => {
                assert_eq!(origin.document, 2);
                assert_eq!((*line, *column), (11, 7));
                assert_eq!(message, "unclosed bracket '['");
            }
            other => panic!("expected a syntax error, got {other}"),
        }
    }

    #[test]
    fn missing_kind_or_name_is_refused() {
        assert!(error_text("apiVersion: v1\nmetadata: {name: x}\n").contains("kind is missing"));
        let err = error_text("apiVersion: mcpsync.dev/v1alpha1\nkind: McpServer\nmetadata: {}\n");
        assert!(err.contains("metadata.name is missing"), "{err}");
    }

    #[test]
    fn unknown_mcpsync_kind_is_an_error_not_a_skip() {
        let err =
            error_text("apiVersion: mcpsync.dev/v1beta9\nkind: McpServer\nmetadata: {name: x}\n");
        assert!(err.contains("not a kind this mcpsync knows"), "{err}");
    }

    #[test]
    fn duplicate_objects_name_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.yaml", SERVER);
        let b = write(dir.path(), "b.yaml", &format!("{REGISTRY}---\n{SERVER}"));
        let err = load(&[a, b]).unwrap_err().to_string();
        assert!(
            err.contains("McpServer team-a/github is defined twice"),
            "{err}"
        );
        assert!(err.contains("a.yaml, document 1"), "{err}");
        assert!(err.contains("b.yaml, document 2"), "{err}");
    }

    #[test]
    fn same_name_in_other_namespace_is_no_duplicate() {
        let other = SERVER.replace("team-a", "team-b");
        let m = load_text(&format!("{SERVER}---\n{other}")).unwrap();
        assert_eq!(m.servers.len(), 2);
    }

    #[test]
    fn folders_are_read_recursively_sorted_and_without_hidden_entries() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.yaml", &SERVER.replace("github", "b"));
        write(dir.path(), "a/c.yml", &SERVER.replace("github", "a-c"));
        write(
            dir.path(),
            "a/d.json",
            r#"{"apiVersion":"mcpsync.dev/v1alpha1","kind":"McpServer","metadata":{"name":"a-d"},"spec":{"registryRef":{"name":"zudu"}}}"#,
        );
        write(
            dir.path(),
            ".hidden.yaml",
            &SERVER.replace("github", "hidden"),
        );
        write(dir.path(), ".git/x.yaml", &SERVER.replace("github", "git"));
        write(dir.path(), "notes.txt", "not yaml: [");
        let m = load(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<String> = m.servers.iter().map(|s| s.object.name_any()).collect();
        assert_eq!(names, ["a-c", "a-d", "b"]);
    }

    #[test]
    fn list_items_are_loaded_with_their_item_number() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: mcpsync.dev/v1alpha1\n  kind: McpServer\n  metadata: {name: one}\n  spec: {registryRef: {name: r}}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: cm}\n";
        let m = load_text(text).unwrap();
        assert_eq!(m.servers[0].origin.item, Some(1));
        assert!(m.skipped[0].contains("document 1, item 2: v1 ConfigMap skipped"));
    }

    #[test]
    fn missing_path_error_names_it() {
        let err = load(&[PathBuf::from("/nonexistent/mcpsync.yaml")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/mcpsync.yaml: cannot read")
        );
    }

    #[test]
    fn secret_string_data_wins_over_data() {
        // "ZnJvbS1kYXRh" is base64 for "from-data".
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: team-a}\ndata: {a: ZnJvbS1kYXRh, b: ZnJvbS1kYXRh}\nstringData: {b: from-string-data}\n";
        let m = load_text(text).unwrap();
        assert_eq!(m.secrets.get("team-a", "s", "a").unwrap(), "from-data");
        assert_eq!(
            m.secrets.get("team-a", "s", "b").unwrap(),
            "from-string-data"
        );
    }

    #[test]
    fn secret_errors_never_quote_the_value() {
        let canary = "CANARY-7f3a";
        let bad_base64 = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata: {{token: \"{canary}!!\"}}\n"
        );
        let wrong_type = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{token: [{canary}]}}\n"
        );
        let broken = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{token: \"{canary}\n"
        );
        for text in [bad_base64, wrong_type, broken] {
            let err = load_text(&text).unwrap_err();
            assert!(!err.to_string().contains(canary), "{err}");
            assert!(!format!("{err:?}").contains(canary), "{err:?}");
        }
        let err = error_text(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata: {{token: \"{canary}!!\"}}\n"
        ));
        assert!(err.contains("(Secret \"s\"): data.token"), "{err}");
    }

    #[test]
    fn debug_output_of_manifests_hides_secret_values() {
        let m = load_text(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {token: CANARY-7f3a}\n",
        )
        .unwrap();
        let debug = format!("{m:?}");
        assert!(debug.contains("default/s"), "{debug}");
        assert!(debug.contains("token"), "{debug}");
        assert!(!debug.contains("CANARY-7f3a"), "{debug}");
    }

    #[test]
    fn registry_error_path_reaches_inside_the_flattened_connection() {
        let bad = REGISTRY.replace(
            "      apiSecretSecretRef: {name: zudu-creds, key: api-secret}\n",
            "",
        );
        let err = error_text(&bad);
        assert!(
            err.ends_with(
                ": McpRegistry default/zudu: spec.provider.zudu.apiSecretSecretRef: Required value"
            ),
            "{err}"
        );
    }

    #[test]
    fn json_syntax_error_names_line_and_withholds_secret_documents() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "x.json",
            "{\n  \"apiVersion\": \"v1\",\n  \"kind\" \"ConfigMap\"\n}",
        );
        let err = load(&[path]).unwrap_err().to_string();
        assert!(
            err.contains("x.json, document 1: invalid JSON at line 3"),
            "{err}"
        );
        assert!(err.ends_with("expected `:`"), "{err}");
        let path = write(
            dir.path(),
            "s.json",
            "{\"kind\": \"Secret\", \"stringData\": {\"t\": \"CANARY\"",
        );
        let err = load(&[path]).unwrap_err().to_string();
        assert!(err.contains("details withheld"), "{err}");
    }

    #[test]
    fn a_file_named_twice_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "a.yaml", SERVER);
        let m = load(&[dir.path().to_path_buf(), file]).unwrap();
        assert_eq!(m.servers.len(), 1);
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        let m = load_text(&format!("\u{feff}{SERVER}")).unwrap();
        assert_eq!(m.servers.len(), 1);
    }
}
