//! The one HTTP client shared by every provider: it sends what a [`ProviderModel`]
//! describes and turns answers into records or classified [`RemoteError`]s.
//!
//! What it guarantees, whatever the provider:
//! - auth headers come from resolved secrets, are marked sensitive, and never follow a
//!   redirect to another origin (redirects are followed within the same origin only,
//!   because reqwest strips `Authorization` on cross-host redirects but not `X-API-Key`);
//! - one token bucket per client limits the request rate of every caller sharing it
//!   (the client is a cheap `Clone` around an `Arc`);
//! - `Retry-After` (seconds or HTTP date) is honoured, else exponential backoff with
//!   jitter, for 429/503/other 5xx/timeouts/connection errors, with bounded attempts;
//!   a POST is re-sent only when the registry answered 429 or the connection was never
//!   established, so that a timeout, a dropped answer or a 5xx can never create a second
//!   record (the pipeline keeps the create intent and looks the record up by name first);
//! - answers are read up to `max_body_bytes` and never quoted: error messages hold only
//!   the vendor's documented message fields, with every auth secret masked.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, redirect};
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::pacing::Pacing;
use super::{
    Change, Cursor, ErrorClass, Method, ProviderModel, RemoteError, RemoteRecord, RequestSpec,
    WriteContext,
};
use crate::api::registry::RegistryConnection;
use crate::secret::{Redactor, SecretValue};
use crate::vocab::field::Field;

/// Most characters of registry text (an error message) kept in a message.
const MAX_REGISTRY_TEXT: usize = 500;

/// A listing read up to a page budget.
#[derive(Clone, Debug, PartialEq)]
pub enum Listing {
    /// Every page was read.
    Complete(Vec<RemoteRecord>),
    /// The budget ran out: the records of the pages read, and where the rest starts.
    Truncated {
        records: Vec<RemoteRecord>,
        next: Cursor,
    },
}

/// How the client talks to one registry.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// The registry's base URL; request paths are appended to its path.
    pub base_url: Url,
    /// Whole-request timeout (connect, send, read the answer).
    pub timeout: Duration,
    /// Token refill rate of the client-side rate limit.
    pub requests_per_second: f64,
    /// Token bucket size: requests that may go out at once.
    pub burst: u32,
    /// Tries per call, the first one included.
    pub max_attempts: u32,
    /// Largest answer body read; a larger one fails as `Unreachable`.
    pub max_body_bytes: usize,
    /// Accept an `http://` base URL (tests, local simulators).
    pub allow_insecure_http: bool,
    /// First backoff delay (doubled each retry, with jitter).
    pub min_backoff: Duration,
    /// Largest backoff delay.
    pub max_backoff: Duration,
    /// Longest `Retry-After` waited out inside a call; a longer one is returned to the
    /// caller as `RateLimited` with `retry_after`, to requeue instead of blocking.
    pub max_retry_wait: Duration,
    /// Most pages read by one `list_all`: a guard against a registry that never ends.
    pub max_pages: usize,
    /// Lower the client's own rate after a 429 and raise it again with each answer
    /// (additive increase, multiplicative decrease; see `pacing`). Default on.
    pub adaptive_rate: bool,
}

impl ClientConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_RPS: f64 = 5.0;
    pub const DEFAULT_BURST: u32 = 10;

    /// The defaults: 30 s timeout, 5 requests/s with bursts of 10, 4 attempts, 1 MiB.
    pub fn new(base_url: Url) -> Self {
        ClientConfig {
            base_url,
            timeout: Self::DEFAULT_TIMEOUT,
            requests_per_second: Self::DEFAULT_RPS,
            burst: Self::DEFAULT_BURST,
            max_attempts: 4,
            max_body_bytes: 1024 * 1024,
            allow_insecure_http: false,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_wait: Duration::from_secs(10),
            max_pages: 1000,
            adaptive_rate: true,
        }
    }

    /// The settings of a McpRegistry / ClusterMcpRegistry connection, against `base_url`
    /// (the connection's `baseUrl` or the vendor's default, resolved by the caller, or a
    /// simulator's address). `allow_insecure_http` allows `http://` on top of the
    /// connection's own `allowInsecureHttp`.
    pub fn for_connection(
        conn: &RegistryConnection,
        base_url: &str,
        allow_insecure_http: bool,
    ) -> Result<Self, ClientError> {
        let registry = super::model_for(&conn.provider).kind().id();
        let base_url = Url::parse(base_url).map_err(|e| ClientError::BadBaseUrl {
            registry,
            reason: e.to_string(),
        })?;
        let mut config = ClientConfig::new(base_url);
        config.allow_insecure_http =
            allow_insecure_http || conn.allow_insecure_http.unwrap_or(false);
        if let Some(secs) = conn.timeout_seconds {
            config.timeout = Duration::from_secs(u64::from(secs.max(1)));
        }
        if let Some(rl) = &conn.rate_limit {
            config.requests_per_second = rl.requests_per_second;
            config.burst = rl.burst.unwrap_or(Self::DEFAULT_BURST);
        }
        Ok(config)
    }

    /// The base URL of a connection: its `baseUrl`, else the vendor's public one.
    pub fn base_url_of(conn: &RegistryConnection) -> Result<String, ClientError> {
        let kind = super::model_for(&conn.provider).kind();
        conn.base_url
            .clone()
            .or_else(|| kind.default_base_url().map(str::to_string))
            .ok_or(ClientError::NoBaseUrl {
                registry: kind.id(),
            })
    }
}

/// Why a client could not be built. Never holds a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("registry {registry}: no base URL; set spec.connection.baseUrl")]
    NoBaseUrl { registry: &'static str },
    #[error("registry {registry}: base URL is not a valid URL: {reason}")]
    BadBaseUrl {
        registry: &'static str,
        reason: String,
    },
    #[error(
        "registry {registry}: base URL {origin} uses plain http, which would send credentials in clear text; use https:// or set allowInsecureHttp: true"
    )]
    InsecureUrl {
        registry: &'static str,
        origin: String,
    },
    #[error("registry {registry}: base URL must be http:// or https://, not {scheme}://")]
    UnsupportedScheme {
        registry: &'static str,
        scheme: String,
    },
    #[error(
        "registry {registry}: the value of auth header {header} is not a valid header value (control characters or line breaks in the Secret?)"
    )]
    BadSecret {
        registry: &'static str,
        header: &'static str,
    },
    #[error("registry {registry}: rate limit needs requestsPerSecond > 0 and burst >= 1")]
    BadRateLimit { registry: &'static str },
    #[error("registry {registry}: cannot build the HTTP client: {reason}")]
    Build {
        registry: &'static str,
        reason: String,
    },
}

/// Counters for observers and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Requests handed to the network (retries included).
    pub requests: u64,
    /// Of those, re-sends after a failed attempt.
    pub retries: u64,
}

/// The shared client of one registry account. Cloning shares the rate limit.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    model: Box<dyn ProviderModel>,
    config: ClientConfig,
    http: reqwest::Client,
    auth: HeaderMap,
    redactor: Redactor,
    limiter: DefaultDirectRateLimiter,
    /// The rate the registry grants, as learnt from its 429s (`None`: not adaptive).
    pacing: Option<Pacing>,
    /// Set by a `Retry-After`: no caller of this client sends before then.
    paused_until: Mutex<Option<Instant>>,
    requests: AtomicU64,
    retries: AtomicU64,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("registry", &self.inner.model.kind())
            .field("base_url", &self.inner.config.base_url.as_str())
            .finish_non_exhaustive()
    }
}

/// When a failed attempt may be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retry {
    Never,
    /// The request was certainly not processed (429/503, connection never established).
    Always,
    /// The request may have been processed: re-sent unless it is a POST.
    UnlessPost,
}

struct Failure {
    error: RemoteError,
    retry: Retry,
}

impl RegistryClient {
    /// A client for `model`'s registry. Refuses `http://` unless allowed, and secrets that
    /// cannot be header values.
    pub fn new(
        model: Box<dyn ProviderModel>,
        config: ClientConfig,
        auth: Vec<(super::AuthHeader, SecretValue)>,
    ) -> Result<Self, ClientError> {
        let registry = model.kind().id();
        check_scheme(registry, &config)?;
        let limiter = rate_limiter(registry, &config)?;
        let mut headers = HeaderMap::new();
        let mut redactor = Redactor::default();
        for (h, secret) in &auth {
            let name = HeaderName::from_bytes(h.header.as_bytes()).map_err(|_| {
                ClientError::BadSecret {
                    registry,
                    header: h.header,
                }
            })?;
            let mut value = HeaderValue::from_str(&format!("{}{}", h.prefix, secret.expose()))
                .map_err(|_| ClientError::BadSecret {
                    registry,
                    header: h.header,
                })?;
            value.set_sensitive(true);
            headers.insert(name, value);
            redactor.add(secret);
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(same_origin_redirects())
            .user_agent(concat!("mcpsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Build {
                registry,
                reason: e.to_string(),
            })?;
        let pacing = config
            .adaptive_rate
            .then(|| Pacing::new(config.requests_per_second, Instant::now()));
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                model,
                config,
                http,
                auth: headers,
                redactor,
                limiter,
                pacing,
                paused_until: Mutex::new(None),
                requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
            }),
        })
    }

    pub fn model(&self) -> &dyn ProviderModel {
        self.inner.model.as_ref()
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Requests and retries sent so far by this client and its clones.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
        }
    }

    /// The record with `id`; a soft-deleted record counts as `NotFound`.
    pub async fn get(&self, id: &str) -> Result<RemoteRecord, RemoteError> {
        let spec = self.model().get_request(id);
        let body = self.call(&spec, "get").await?;
        if self.model().is_deleted(&body) {
            return Err(self.error(&spec, ErrorClass::NotFound, None, "the record is deleted"));
        }
        self.decode_record(&spec, &body)
    }

    /// Every record (all pages); `name` keeps only the records with exactly that name.
    pub async fn list_all(&self, name: Option<&str>) -> Result<Vec<RemoteRecord>, RemoteError> {
        let max_pages = self.inner.config.max_pages;
        match self.list_pages(name, max_pages).await? {
            Listing::Complete(records) => Ok(records),
            Listing::Truncated { next, .. } => {
                let spec = self.model().list_request(Some(&next), name);
                let what = format!("the listing has more than {max_pages} pages");
                Err(self.error(&spec, ErrorClass::Unreachable, None, &what))
            }
        }
    }

    /// The listing if it fits in `max_pages` pages, else the records of those pages
    /// (`Truncated`): the caller can then decide that single GETs are cheaper.
    pub async fn list_within(
        &self,
        name: Option<&str>,
        max_pages: usize,
    ) -> Result<Listing, RemoteError> {
        self.list_pages(name, max_pages.min(self.inner.config.max_pages))
            .await
    }

    async fn list_pages(
        &self,
        name: Option<&str>,
        max_pages: usize,
    ) -> Result<Listing, RemoteError> {
        let model = self.model();
        let mut records = Vec::new();
        let mut cursor: Option<Cursor> = None;
        let mut seen: Vec<Cursor> = Vec::new();
        // Guards against a registry that never ends: pages that only repeat records
        // already read, or empty pages that keep pointing further, end the listing.
        let mut ids: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut empty_pages = 0;
        let keep = |mut records: Vec<RemoteRecord>| {
            if let Some(name) = name {
                records.retain(|r| r.name.as_deref() == Some(name));
            }
            records
        };
        for _ in 0..max_pages {
            let spec = model.list_request(cursor.as_ref(), name);
            let body = self.call(&spec, "list").await?;
            let page = model
                .parse_list(&body, cursor.as_ref())
                .map_err(|e| self.error(&spec, ErrorClass::Unreachable, None, &e.to_string()))?;
            let fresh = page
                .records
                .iter()
                .filter(|r| ids.insert(r.id.clone()))
                .count();
            let repeated = !page.records.is_empty() && fresh == 0;
            empty_pages = if page.records.is_empty() {
                empty_pages + 1
            } else {
                0
            };
            records.extend(page.records);
            let Some(next) = page.next else {
                return Ok(Listing::Complete(keep(records)));
            };
            if seen.contains(&next) {
                return Err(self.error(
                    &spec,
                    ErrorClass::Unreachable,
                    None,
                    "the listing points back to a page already read",
                ));
            }
            if repeated || empty_pages > 3 {
                return Err(self.error(
                    &spec,
                    ErrorClass::Unreachable,
                    None,
                    "the listing keeps pointing to further pages without new records",
                ));
            }
            seen.push(next.clone());
            cursor = Some(next);
        }
        match cursor {
            Some(next) => Ok(Listing::Truncated {
                records: keep(records),
                next,
            }),
            None => Ok(Listing::Complete(keep(records))),
        }
    }

    /// Creates a record. A value the provider cannot take is `Rejected` before any call.
    pub async fn create(
        &self,
        fields: &BTreeMap<Field, Value>,
        ctx: &WriteContext,
    ) -> Result<RemoteRecord, RemoteError> {
        let spec = self
            .model()
            .create_request(fields, ctx)
            .map_err(|v| RemoteError {
                class: ErrorClass::Rejected,
                status: None,
                message: format!("{}: {}: {}", self.registry(), v.path, v.rule),
                retry_after: None,
            })?;
        let body = self.call(&spec, "create").await?;
        self.decode_record(&spec, &body)
    }

    /// Sends one PATCH holding exactly `changes` (the engine never asks for an empty one).
    pub async fn patch(
        &self,
        id: &str,
        changes: &[Change],
        ctx: &WriteContext,
    ) -> Result<RemoteRecord, RemoteError> {
        let spec = self.model().patch_request(id, changes, ctx);
        let body = self.call(&spec, "patch").await?;
        self.decode_record(&spec, &body)
    }

    /// Deletes a record. 404 comes back as `NotFound`: the caller decides whether that
    /// counts as done.
    pub async fn delete(&self, id: &str) -> Result<(), RemoteError> {
        let spec = self.model().delete_request(id);
        self.call(&spec, "delete").await.map(|_| ())
    }

    fn registry(&self) -> &'static str {
        self.inner.model.kind().id()
    }

    fn decode_record(&self, spec: &RequestSpec, body: &Value) -> Result<RemoteRecord, RemoteError> {
        self.model()
            .parse_record(body)
            .map_err(|e| self.error(spec, ErrorClass::Unreachable, None, &e.to_string()))
    }

    /// A safe error: `registry METHOD /path[: HTTP status]: what`, secrets masked.
    fn error(
        &self,
        spec: &RequestSpec,
        class: ErrorClass,
        status: Option<u16>,
        what: &str,
    ) -> RemoteError {
        let status_text = status.map(|s| format!(" answered {s}")).unwrap_or_default();
        let message = format!(
            "{} {} {}{status_text}: {what}",
            self.registry(),
            method_name(spec.method),
            spec.path
        );
        RemoteError {
            class,
            status,
            message: self.inner.redactor.redact(&message),
            retry_after: None,
        }
    }

    /// Sends `spec` with rate limit and retries; the decoded JSON answer (`Null` when
    /// empty).
    async fn call(
        &self,
        spec: &RequestSpec,
        operation: &'static str,
    ) -> Result<Value, RemoteError> {
        let config = &self.inner.config;
        let mut backoff = ExponentialBuilder::new()
            .with_min_delay(config.min_backoff)
            .with_max_delay(config.max_backoff)
            .with_jitter()
            .without_max_times()
            .build();
        let mut attempt: u32 = 1;
        loop {
            let failure = match self.attempt(spec, operation).await {
                Ok(value) => return Ok(value),
                Err(f) => f,
            };
            let retryable = match failure.retry {
                Retry::Always => true,
                Retry::UnlessPost => spec.method != Method::Post,
                Retry::Never => false,
            };
            if !retryable || attempt >= config.max_attempts.max(1) {
                return Err(failure.error);
            }
            let delay = match failure.error.retry_after {
                Some(wait) if wait > config.max_retry_wait => return Err(failure.error),
                Some(wait) => wait,
                None => backoff.next().unwrap_or(config.max_backoff),
            };
            // Said as it happens (the CLI shows this level on stderr): a slow run says why.
            tracing::info!(
                registry = self.registry(),
                method = method_name(spec.method),
                path = %spec.path,
                attempt,
                delay_ms = delay.as_millis() as u64,
                class = ?failure.error.class,
                status = ?failure.error.status,
                "registry call failed; retrying"
            );
            self.inner.retries.fetch_add(1, Ordering::Relaxed);
            if failure.error.retry_after.is_some() {
                self.pause_for(delay);
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One try: wait for a token, send, read the answer within the size cap, classify.
    async fn attempt(&self, spec: &RequestSpec, operation: &'static str) -> Result<Value, Failure> {
        let metrics = crate::ops::metrics::metrics();
        self.wait_for_pause().await;
        if self.inner.limiter.check().is_err() {
            metrics.rate_limit_wait(self.registry());
            self.inner.limiter.until_ready().await;
        }
        if let Some(slot) = self.pacing_slot() {
            metrics.rate_limit_wait(self.registry());
            tokio::time::sleep_until(slot).await;
        }
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let mut request = self
            .inner
            .http
            .request(reqwest_method(spec.method), self.url_for(spec))
            .headers(self.inner.auth.clone());
        if !spec.query.is_empty() {
            request = request.query(&spec.query);
        }
        if let Some(body) = &spec.body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            metrics.registry_call(self.registry(), operation, "error", started.elapsed());
            self.transport_failure(spec, &e)
        })?;
        let status = response.status();
        metrics.registry_call(
            self.registry(),
            operation,
            status.as_str(),
            started.elapsed(),
        );
        tracing::debug!(
            registry = self.registry(),
            method = method_name(spec.method),
            path = %spec.path,
            status = status.as_u16(),
            "registry answered"
        );
        if let Some(pacing) = &self.inner.pacing {
            match status {
                StatusCode::TOO_MANY_REQUESTS => pacing.throttled(),
                s if s.is_success() => pacing.succeeded(),
                _ => {}
            }
        }
        let retry_after = retry_after(response.headers(), SystemTime::now());
        let bytes = self.read_capped(spec, response).await?;
        if status.is_success() {
            return self.success_body(spec, status, &bytes);
        }
        Err(self.answer_failure(spec, status, &bytes, retry_after))
    }

    fn pacing_slot(&self) -> Option<Instant> {
        self.inner.pacing.as_ref()?.reserve(Instant::now())
    }

    /// The rate this client allows itself now: its configured rate, lower after 429s.
    pub fn current_rate(&self) -> f64 {
        self.inner
            .pacing
            .as_ref()
            .map_or(self.inner.config.requests_per_second, Pacing::rate)
    }

    /// Holds every caller of this client back until `delay` from now: a `Retry-After`
    /// speaks for the account, not for one request.
    fn pause_for(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut paused = self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    async fn wait_for_pause(&self) {
        let until = *self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(until) = until.filter(|u| *u > Instant::now()) {
            crate::ops::metrics::metrics().rate_limit_wait(self.registry());
            tokio::time::sleep_until(until).await;
        }
    }

    fn url_for(&self, spec: &RequestSpec) -> Url {
        let base = &self.inner.config.base_url;
        let mut url = base.clone();
        url.set_path(&format!(
            "{}{}",
            base.path().trim_end_matches('/'),
            spec.path
        ));
        url.set_query(None);
        url
    }

    /// The answer body, at most `max_body_bytes`, read chunk by chunk.
    async fn read_capped(
        &self,
        spec: &RequestSpec,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, Failure> {
        let max = self.inner.config.max_body_bytes;
        let status = response.status().as_u16();
        let too_large = || Failure {
            error: self.error(
                spec,
                ErrorClass::Unreachable,
                Some(status),
                &format!("the answer is larger than the {max}-byte limit; not read"),
            ),
            retry: Retry::Never,
        };
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(self.transport_failure(spec, &e)),
            }
        }
    }

    fn success_body(
        &self,
        spec: &RequestSpec,
        status: StatusCode,
        bytes: &[u8],
    ) -> Result<Value, Failure> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(bytes).map_err(|_| Failure {
            error: self.error(
                spec,
                ErrorClass::Unreachable,
                Some(status.as_u16()),
                "the answer is not JSON",
            ),
            retry: Retry::Never,
        })
    }

    /// A non-2xx answer, classified per docs/providers.md ("Errors -> conditions").
    fn answer_failure(
        &self,
        spec: &RequestSpec,
        status: StatusCode,
        bytes: &[u8],
        retry_after: Option<Duration>,
    ) -> Failure {
        let code = status.as_u16();
        let (class, retry) = classify(status);
        let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        let what = if status.is_redirection() {
            "redirected to another origin; not followed, so that credentials stay with the registry"
                .to_string()
        } else {
            // The registry's words, without control characters (ANSI escapes could forge
            // output lines) and capped: a 300 KB message made a 900 KB state file.
            let message = self
                .model()
                .error_message(code, &body)
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
            crate::secret::clean_text(&message, MAX_REGISTRY_TEXT)
        };
        let mut error = self.error(spec, class, Some(code), &what);
        error.retry_after = retry_after.filter(|_| class == ErrorClass::RateLimited);
        Failure { error, retry }
    }

    /// A request that got no (complete) answer.
    fn transport_failure(&self, spec: &RequestSpec, e: &reqwest::Error) -> Failure {
        // The origin only (scheme, host, port): a base URL carries no credentials (they
        // are refused) and its path says nothing more.
        let origin = self.inner.config.base_url.origin().ascii_serialization();
        let (what, retry) = if e.is_timeout() {
            (
                format!(
                    "no answer within {:?} from {origin}",
                    self.inner.config.timeout
                ),
                Retry::UnlessPost,
            )
        } else if e.is_connect() {
            (
                format!("cannot connect to {origin}: {}", error_chain(e)),
                Retry::Always,
            )
        } else {
            (
                format!("connection to {origin} failed: {}", error_chain(e)),
                Retry::UnlessPost,
            )
        };
        Failure {
            error: self.error(spec, ErrorClass::Unreachable, None, &what),
            retry,
        }
    }
}

/// Class and retry rule of an HTTP status.
fn classify(status: StatusCode) -> (ErrorClass, Retry) {
    match status.as_u16() {
        400 | 422 => (ErrorClass::Rejected, Retry::Never),
        401 | 403 => (ErrorClass::Unauthorized, Retry::Never),
        404 | 410 => (ErrorClass::NotFound, Retry::Never),
        409 => (ErrorClass::Conflict, Retry::Never),
        // 429 means "not processed": any request may be sent again. A 503 may come after
        // the work was done (a proxy that gave up on the answer): a POST is not re-sent;
        // the pipeline looks the record up by name first (its create intent is kept).
        429 => (ErrorClass::RateLimited, Retry::Always),
        503 => (ErrorClass::RateLimited, Retry::UnlessPost),
        500..=599 => (ErrorClass::Unreachable, Retry::UnlessPost),
        // Other 4xx: the request is wrong for this registry; 3xx: a refused redirect.
        400..=499 => (ErrorClass::Rejected, Retry::Never),
        _ => (ErrorClass::Unreachable, Retry::Never),
    }
}

/// `e` and its sources, without the URL (whose query may hold names and ids).
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        parts.push("request failed".to_string());
    }
    parts.join(": ")
}

/// `Retry-After` as a delay: delta-seconds or an HTTP date (a past date means now).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(raw)
        .ok()?;
    let at = SystemTime::from(at);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Follows redirects within the origin of the first URL only (at most 5 hops).
fn same_origin_redirects() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin && attempt.previous().len() <= 5 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

fn check_scheme(registry: &'static str, config: &ClientConfig) -> Result<(), ClientError> {
    if !config.base_url.username().is_empty() || config.base_url.password().is_some() {
        // Credentials in a URL end up in logs, proxies and error messages: they belong in
        // the registry's Secret references. The URL itself is not repeated.
        return Err(ClientError::BadBaseUrl {
            registry,
            reason: "it carries user credentials (user:password@); put them in the registry's Secret references instead".to_string(),
        });
    }
    match config.base_url.scheme() {
        "https" => Ok(()),
        "http" if config.allow_insecure_http => Ok(()),
        "http" => Err(ClientError::InsecureUrl {
            registry,
            origin: config.base_url.origin().ascii_serialization(),
        }),
        other => Err(ClientError::UnsupportedScheme {
            registry,
            scheme: other.to_string(),
        }),
    }
}

fn rate_limiter(
    registry: &'static str,
    config: &ClientConfig,
) -> Result<DefaultDirectRateLimiter, ClientError> {
    let bad = || ClientError::BadRateLimit { registry };
    if !(config.requests_per_second.is_finite() && config.requests_per_second > 0.0) {
        return Err(bad());
    }
    // A tiny rate (1e-30/s) is a period no Duration holds: refused, never a panic.
    let period =
        Duration::try_from_secs_f64(1.0 / config.requests_per_second).map_err(|_| bad())?;
    let burst = NonZeroU32::new(config.burst).ok_or_else(bad)?;
    let quota = Quota::with_period(period)
        .ok_or_else(bad)?
        .allow_burst(burst);
    Ok(RateLimiter::direct(quota))
}

fn reqwest_method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        // 2023-11-14T22:13:30Z = now + 10 s
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Tue, 14 Nov 2023 22:13:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(10)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Tue, 14 Nov 2000 22:13:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    fn connection(base: Option<&str>) -> RegistryConnection {
        use crate::api::registry::{PaisProvider, ProviderSpec, RateLimit, SecretKeyRef};
        RegistryConnection {
            provider: ProviderSpec::Pais(PaisProvider {
                token_secret_ref: SecretKeyRef {
                    name: "s".into(),
                    key: "k".into(),
                    namespace: None,
                },
            }),
            base_url: base.map(str::to_string),
            allow_insecure_http: None,
            timeout_seconds: Some(7),
            rate_limit: Some(RateLimit {
                requests_per_second: 2.0,
                burst: None,
            }),
            sync_interval: None,
        }
    }

    #[test]
    fn config_from_connection_and_prefixed_paths() {
        let conn = connection(None);
        let err = ClientConfig::base_url_of(&conn).unwrap_err();
        assert!(err.to_string().contains("pais"), "{err}");
        let conn = connection(Some("http://127.0.0.1:9/pais/"));
        let base = ClientConfig::base_url_of(&conn).unwrap();
        let cfg = ClientConfig::for_connection(&conn, &base, false).unwrap();
        assert_eq!(cfg.timeout, Duration::from_secs(7));
        assert_eq!((cfg.requests_per_second, cfg.burst), (2.0, 10));
        let model = super::super::model_for(&conn.provider);
        let err = RegistryClient::new(model, cfg, Vec::new()).unwrap_err();
        assert!(err.to_string().contains("allowInsecureHttp"), "{err}");
        let cfg = ClientConfig::for_connection(&conn, &base, true).unwrap();
        let client =
            RegistryClient::new(super::super::model_for(&conn.provider), cfg, Vec::new()).unwrap();
        let spec = client.model().get_request("a b");
        assert_eq!(
            client.url_for(&spec).as_str(),
            "http://127.0.0.1:9/pais/api/v1/control/mcp-servers/a%20b"
        );
    }

    #[test]
    fn classification_table() {
        let cases = [
            (400, ErrorClass::Rejected, Retry::Never),
            (422, ErrorClass::Rejected, Retry::Never),
            (401, ErrorClass::Unauthorized, Retry::Never),
            (403, ErrorClass::Unauthorized, Retry::Never),
            (404, ErrorClass::NotFound, Retry::Never),
            (409, ErrorClass::Conflict, Retry::Never),
            (429, ErrorClass::RateLimited, Retry::Always),
            (503, ErrorClass::RateLimited, Retry::UnlessPost),
            (500, ErrorClass::Unreachable, Retry::UnlessPost),
            (502, ErrorClass::Unreachable, Retry::UnlessPost),
            (302, ErrorClass::Unreachable, Retry::Never),
        ];
        for (code, class, retry) in cases {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(classify(status), (class, retry), "{code}");
        }
    }
}

#[cfg(test)]
mod guards {
    use super::*;

    #[test]
    fn credentials_in_the_base_url_are_refused_without_repeating_them() {
        let config =
            ClientConfig::new(Url::parse("https://admin:hunter2-CANARY@api.example.com").unwrap());
        let err = check_scheme("composio", &config).unwrap_err().to_string();
        assert!(err.contains("user credentials"), "{err}");
        assert!(!err.contains("hunter2") && !err.contains("admin"), "{err}");
        let plain = ClientConfig::new(Url::parse("https://api.example.com").unwrap());
        assert!(check_scheme("composio", &plain).is_ok());
    }

    #[test]
    fn a_vanishing_rate_is_an_error_not_a_panic() {
        let mut config = ClientConfig::new(Url::parse("https://api.example.com").unwrap());
        for rate in [1e-30, 0.0, -1.0, f64::NAN] {
            config.requests_per_second = rate;
            assert!(rate_limiter("composio", &config).is_err(), "{rate}");
        }
        config.requests_per_second = 5.0;
        assert!(rate_limiter("composio", &config).is_ok());
    }
}
