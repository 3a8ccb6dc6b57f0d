//! Progress of a long `plan`, `apply` or `delete`, said on stderr so that stdout keeps
//! only the result (`-o json` stays parseable). A run that ends quickly says nothing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A handle the run reports through; the default one reports nowhere.
#[derive(Clone, Default)]
pub struct Progress {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    total: AtomicUsize,
    done: AtomicUsize,
    stage: Mutex<String>,
    started: Instant,
    finished: AtomicBool,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("reports", &self.inner.is_some())
            .finish()
    }
}

impl Progress {
    /// Progress on stderr: silent for `quiet_for`, then one line every `every` until
    /// [`Progress::finish`]. Must be called inside a Tokio runtime.
    pub fn stderr(quiet_for: Duration, every: Duration) -> Progress {
        let inner = Arc::new(Inner {
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            stage: Mutex::new(String::new()),
            started: Instant::now(),
            finished: AtomicBool::new(false),
        });
        let ticker = Arc::downgrade(&inner);
        tokio::spawn(async move {
            tokio::time::sleep(quiet_for).await;
            loop {
                match ticker.upgrade() {
                    Some(inner) if !inner.finished.load(Ordering::Relaxed) => {
                        eprintln!("{}", inner.line());
                    }
                    _ => return,
                }
                tokio::time::sleep(every).await;
            }
        });
        Progress { inner: Some(inner) }
    }

    /// The run has `total` servers.
    pub fn begin(&self, total: usize) {
        if let Some(inner) = &self.inner {
            inner.total.store(total, Ordering::Relaxed);
        }
    }

    /// What the run is doing now (a registry label and a count; never a value).
    pub fn stage(&self, what: String) {
        if let Some(inner) = &self.inner
            && let Ok(mut stage) = inner.stage.lock()
        {
            *stage = what;
        }
    }

    /// `n` more servers are done.
    pub fn done(&self, n: usize) {
        if let Some(inner) = &self.inner {
            inner.done.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The run is over: no more lines.
    pub fn finish(&self) {
        if let Some(inner) = &self.inner {
            inner.finished.store(true, Ordering::Relaxed);
        }
    }

    /// The line the ticker would print now (`None` for the silent handle).
    pub fn line(&self) -> Option<String> {
        self.inner.as_ref().map(|i| i.line())
    }
}

impl Inner {
    fn line(&self) -> String {
        let stage = self.stage.lock().map(|s| s.clone()).unwrap_or_default();
        let now = if stage.is_empty() {
            String::new()
        } else {
            format!("; now {stage}")
        };
        format!(
            "mcpsync: {}/{} server(s) done{now} ({} s)",
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
            self.started.elapsed().as_secs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_line_counts_servers_and_names_the_stage() {
        let progress = Progress::stderr(Duration::from_secs(3600), Duration::from_secs(3600));
        progress.begin(10);
        progress.done(3);
        progress.stage("McpRegistry/ns/r: 7 server(s)".into());
        let line = progress.line().unwrap_or_default();
        assert!(
            line.starts_with("mcpsync: 3/10 server(s) done; now McpRegistry/ns/r: 7 server(s) ("),
            "{line}"
        );
        assert_eq!(Progress::default().line(), None);
    }
}
