//! `mcpsync run` as a child process with the operator's identity (tests/support/kube.rs),
//! its log in a file: killed when dropped, the log printed when the test failed.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::kube::env;

pub struct Operator {
    child: Child,
    log: PathBuf,
}

impl Operator {
    /// `mcpsync run ARGS` with metrics and probes on free loopback ports.
    pub fn start(args: &[&str]) -> Operator {
        let log = std::env::temp_dir().join(format!(
            "mcpsync-operator-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let file = std::fs::File::create(&log).expect("operator log");
        let child = Command::new(env!("CARGO_BIN_EXE_mcpsync"))
            .arg("run")
            .args(args)
            .arg("--kubeconfig")
            .arg(env().operator_kubeconfig_file())
            .args([
                "--metrics-addr",
                "127.0.0.1:0",
                "--probe-addr",
                "127.0.0.1:0",
            ])
            .args(["--log-format", "json"])
            .env("RUST_LOG", "mcpsync=debug,kube=warn")
            .stdout(Stdio::from(file.try_clone().expect("log handle")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("mcpsync run starts");
        Operator { child, log }
    }

    /// The exit status once the process ended by itself, within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The McpServers (`namespace/name`) this operator reconciled, from its debug log.
    pub fn reconciled_servers(&self) -> std::collections::BTreeSet<String> {
        self.logs()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["message"] == "reconcile")
            .filter_map(|l| l["mcpserver"].as_str().map(str::to_string))
            .collect()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- operator log ({}) ---\n{}",
                self.log.display(),
                self.logs()
            );
        }
        let _ = std::fs::remove_file(&self.log);
    }
}
