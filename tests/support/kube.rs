//! A real Kubernetes API server for the tests (the envtest model): kube-apiserver and etcd
//! built from Go modules by `tests/kube/build.sh` and started on loopback by
//! `tests/kube/kubetest`.
//!
//! One server serves every test of a test binary, or every test binary of a `make test`
//! run: when `MCPSYNC_KUBE_DIR` is set (by `kubetest run`, which `make test` and `make e2e`
//! wrap the real-server tests in), that server is used; otherwise the first test that asks
//! starts one with `kubetest up` and holds its stdin. The helper stops both servers when
//! that pipe closes, which the kernel does when the test process ends, however it ends.
//!
//! With `MCPSYNC_E2E_EXISTING_CLUSTER=1` the tests run against the cluster of the current
//! `KUBECONFIG` instead; the operator identity is then impersonated.
//!
//! Each test takes its own namespace ([`TestNamespace`]); cluster-wide objects (the CRDs,
//! the admission policy) are installed once ([`Env::install_crds`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// The user the operator runs as in a cluster (the Helm chart's ServiceAccount).
pub const OPERATOR_USER: &str = "system:serviceaccount:mcpsync-system:mcpsync";
/// The CRDs of the three kinds.
pub const CRD_NAMES: [&str; 3] = [
    "mcpservers.mcpsync.dev",
    "mcpregistries.mcpsync.dev",
    "clustermcpregistries.mcpsync.dev",
];

/// The API server the tests of this process use.
pub struct Env {
    admin_kubeconfig: PathBuf,
    /// `None` on an existing cluster: the operator is impersonated from the admin config.
    operator_kubeconfig: Option<PathBuf>,
    kubectl: PathBuf,
    /// Where the helper keeps the servers' logs and the audit log (not on an existing cluster).
    pub dir: Option<PathBuf>,
    /// The `kubetest up` helper when this process started it, with its stdin: dropping
    /// (or the process ending) closes the pipe and stops the servers.
    _helper: Option<(Child, ChildStdin)>,
}

static ENV: OnceLock<Env> = OnceLock::new();
static CRDS: Mutex<bool> = Mutex::new(false);
static RBAC: Mutex<bool> = Mutex::new(false);
static OPERATOR_KUBECONFIG: OnceLock<PathBuf> = OnceLock::new();

/// The shared API server, started on first use.
pub fn env() -> &'static Env {
    ENV.get_or_init(|| match Env::discover() {
        Ok(env) => env,
        Err(message) => panic!("no API server for the tests: {message}"),
    })
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Env {
    fn discover() -> Result<Env, String> {
        if std::env::var("MCPSYNC_E2E_EXISTING_CLUSTER").as_deref() == Ok("1") {
            let kubeconfig = std::env::var("KUBECONFIG").map_err(|_| {
                "MCPSYNC_E2E_EXISTING_CLUSTER=1 needs KUBECONFIG to name the cluster's kubeconfig"
                    .to_string()
            })?;
            return Ok(Env {
                admin_kubeconfig: PathBuf::from(kubeconfig),
                operator_kubeconfig: None,
                kubectl: PathBuf::from(std::env::var("KUBECTL").unwrap_or("kubectl".into())),
                dir: None,
                _helper: None,
            });
        }
        if let Ok(dir) = std::env::var("MCPSYNC_KUBE_DIR") {
            return Env::from_dir(PathBuf::from(dir), None);
        }
        Env::start()
    }

    fn from_dir(dir: PathBuf, helper: Option<(Child, ChildStdin)>) -> Result<Env, String> {
        let kubectl = std::fs::read_to_string(dir.join("kubectl"))
            .map_err(|e| format!("{}: {e}", dir.join("kubectl").display()))?;
        Ok(Env {
            admin_kubeconfig: dir.join("admin.kubeconfig"),
            operator_kubeconfig: Some(dir.join("operator.kubeconfig")),
            kubectl: PathBuf::from(kubectl.trim()),
            dir: Some(dir),
            _helper: helper,
        })
    }

    /// Builds (or reuses) the binaries and starts `kubetest up` in `target/kube-test/`.
    fn start() -> Result<Env, String> {
        let root = repo_root();
        let build = Command::new("bash")
            .arg(root.join("tests/kube/build.sh"))
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("run tests/kube/build.sh: {e}"))?;
        if !build.status.success() {
            return Err(format!(
                "tests/kube/build.sh failed ({}); it says why above",
                build.status
            ));
        }
        let bin = PathBuf::from(String::from_utf8_lossy(&build.stdout).trim());
        let runs = root.join("target/kube-test");
        prune_old_runs(&runs);
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let dir = runs.join(format!("{stamp}-{}", std::process::id()));
        let mut child = Command::new(bin.join("kubetest"))
            .args(["up", "--dir"])
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start kubetest: {e}"))?;
        let stdin = child.stdin.take().ok_or("kubetest has no stdin")?;
        let stdout = child.stdout.take().ok_or("kubetest has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("read kubetest: {e}"))?;
        if !line.starts_with("ready ") {
            let status = child.wait().map_err(|e| e.to_string())?;
            return Err(format!(
                "kubetest up ended ({status}) before the server was ready; logs in {}",
                dir.display()
            ));
        }
        Env::from_dir(dir, Some((child, stdin)))
    }

    /// A client with every right (`system:masters`), for test set-up and inspection.
    pub async fn admin(&self) -> Client {
        client(self.admin_config().await)
    }

    /// A client with the operator's identity: it may do only what RBAC grants
    /// `system:serviceaccount:mcpsync-system:mcpsync`.
    pub async fn operator(&self) -> Client {
        client(self.operator_config().await)
    }

    pub async fn admin_config(&self) -> Config {
        config(&self.admin_kubeconfig, None).await
    }

    pub async fn operator_config(&self) -> Config {
        match &self.operator_kubeconfig {
            Some(path) => config(path, None).await,
            None => config(&self.admin_kubeconfig, Some(OPERATOR_USER)).await,
        }
    }

    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// `kubectl` with the admin kubeconfig. Panics with kubectl's output when it fails.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_output(args, None);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl` with the admin kubeconfig and `stdin`, whatever its exit status.
    pub fn kubectl_output(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(&self.kubectl);
        cmd.arg("--kubeconfig")
            .arg(&self.admin_kubeconfig)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.kubectl.display()));
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            use std::io::Write;
            pipe.write_all(text.as_bytes())
                .expect("write kubectl stdin");
        }
        child.wait_with_output().expect("wait for kubectl")
    }

    /// Installs `crds/` (the three CRDs, the admission policy and its binding) with
    /// server-side apply, once per process, and waits until the CRDs are Established and
    /// the policy is in force.
    pub fn install_crds(&self) {
        let mut installed = CRDS.lock().unwrap_or_else(|e| e.into_inner());
        if *installed {
            return;
        }
        let crds = repo_root().join("crds");
        let crds = crds.to_string_lossy();
        self.kubectl(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=mcpsync-tests",
            "-f",
            &crds,
        ]);
        let mut wait = vec!["wait", "--for=condition=Established", "--timeout=60s"];
        let names: Vec<String> = CRD_NAMES.iter().map(|n| format!("crd/{n}")).collect();
        wait.extend(names.iter().map(String::as_str));
        self.kubectl(&wait);
        self.wait_for_policy();
        *installed = true;
    }

    /// Applies the operator's RBAC as the project ships it (`config/rbac.yaml`), once.
    pub fn install_rbac(&self) {
        let mut installed = RBAC.lock().unwrap_or_else(|e| e.into_inner());
        if *installed {
            return;
        }
        let rbac = repo_root().join("config/rbac.yaml");
        self.kubectl(&["apply", "-f", &rbac.to_string_lossy()]);
        *installed = true;
    }

    /// A kubeconfig file with the operator's identity, for `mcpsync run --kubeconfig`
    /// (on an existing cluster: the admin config impersonating the operator).
    pub fn operator_kubeconfig_file(&self) -> PathBuf {
        if let Some(path) = &self.operator_kubeconfig {
            return path.clone();
        }
        OPERATOR_KUBECONFIG
            .get_or_init(|| {
                let mut kubeconfig =
                    Kubeconfig::read_from(&self.admin_kubeconfig).expect("admin kubeconfig reads");
                for auth in kubeconfig.auth_infos.iter_mut() {
                    if let Some(info) = auth.auth_info.as_mut() {
                        info.impersonate = Some(OPERATOR_USER.to_string());
                        info.impersonate_groups = Some(vec![
                            "system:serviceaccounts".into(),
                            "system:serviceaccounts:mcpsync-system".into(),
                            "system:authenticated".into(),
                        ]);
                    }
                }
                let path = std::env::temp_dir().join(format!(
                    "mcpsync-operator-{}.kubeconfig",
                    std::process::id()
                ));
                let yaml = serde_saphyr::to_string(&kubeconfig).expect("kubeconfig serializes");
                std::fs::write(&path, yaml).expect("write operator kubeconfig");
                path
            })
            .clone()
    }

    /// The API server's audit log (writes only), when this process's server keeps one.
    pub fn audit_log(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join("audit.log"))
    }

    /// A new ValidatingAdmissionPolicy takes a moment to be in force: wait until a
    /// McpRegistry that points into another namespace is refused.
    fn wait_for_policy(&self) {
        let probe = "apiVersion: mcpsync.dev/v1alpha1\nkind: McpRegistry\nmetadata: {name: policy-probe, namespace: default}\nspec:\n  provider:\n    pais:\n      tokenSecretRef: {name: t, key: k, namespace: kube-system}\n  baseUrl: https://pais.example.com\n";
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.kubectl_output(&["create", "--dry-run=server", "-f", "-"], Some(probe));
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() && stderr.contains("ValidatingAdmissionPolicy") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the admission policy is not in force after 60 s: {stderr}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

async fn config(path: &Path, impersonate: Option<&str>) -> Config {
    let mut kubeconfig = Kubeconfig::read_from(path)
        .unwrap_or_else(|e| panic!("read kubeconfig {}: {e}", path.display()));
    if let Some(user) = impersonate {
        for auth in kubeconfig.auth_infos.iter_mut() {
            if let Some(info) = auth.auth_info.as_mut() {
                info.impersonate = Some(user.to_string());
                info.impersonate_groups = Some(vec![
                    "system:serviceaccounts".into(),
                    "system:serviceaccounts:mcpsync-system".into(),
                    "system:authenticated".into(),
                ]);
            }
        }
    }
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("kubeconfig {}: {e}", path.display()))
}

fn client(config: Config) -> Client {
    Client::try_from(config).expect("build a kube client")
}

/// Removes the folders of runs older than a day (logs of earlier runs stay for a while).
fn prune_old_runs(runs: &Path) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    let day = Duration::from_secs(24 * 3600);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A namespace of one test, deleted (without waiting) when dropped.
pub struct TestNamespace {
    pub name: String,
}

impl TestNamespace {
    /// Creates `<prefix>-<random>`.
    pub fn new(prefix: &str) -> TestNamespace {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{prefix}-{}", &suffix[..8]);
        env().kubectl(&["create", "namespace", &name]);
        TestNamespace { name }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = env().kubectl_output(&["delete", "namespace", &self.name, "--wait=false"], None);
    }
}
