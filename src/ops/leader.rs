//! Leader election on a `coordination.k8s.io` Lease (kube-lease-manager). Only the leader
//! runs the controllers; a standby watches the Lease, so when the leader releases it on
//! SIGTERM the standby takes over at once instead of waiting for it to expire.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Seconds a Lease stays valid without renewal, and how long before expiry it is renewed.
const LEASE_SECONDS: u64 = 15;
const RENEW_BEFORE_SECONDS: u64 = 5;

/// This process's part in the election.
pub struct Leadership {
    /// True while this process holds the Lease.
    pub leading: watch::Receiver<bool>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Leadership {
    /// Joins the election for `lease` in `namespace` as `identity`.
    pub async fn campaign(
        client: Client,
        namespace: &str,
        lease: &str,
        identity: &str,
    ) -> anyhow::Result<Leadership> {
        let build = {
            let (client, namespace, lease, identity) = (
                client.clone(),
                namespace.to_string(),
                lease.to_string(),
                identity.to_string(),
            );
            move || {
                LeaseManagerBuilder::new(client.clone(), lease.clone())
                    .with_namespace(namespace.clone())
                    .with_identity(identity.clone())
                    .with_duration(LEASE_SECONDS)
                    .with_grace(RENEW_BEFORE_SECONDS)
                    .with_field_manager("mcpsync")
                    .build()
            }
        };
        let mut manager = build()
            .await
            .map_err(|e| anyhow::anyhow!("Lease {namespace}/{lease}: {e}"))?;
        let (sender, leading) = watch::channel(false);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let leases: Api<Lease> = Api::namespaced(client, namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={lease}"));
        let task = tokio::spawn(async move {
            let mut changes = watcher(leases, config)
                .default_backoff()
                .applied_objects()
                .boxed();
            loop {
                tokio::select! {
                    () = stopped.cancelled() => {
                        if let Err(e) = manager.release().await {
                            tracing::warn!(error = %e, "could not release the Lease");
                        }
                        return;
                    }
                    result = manager.changed() => match result {
                        Ok(now_leading) => {
                            tracing::info!(leading = now_leading, "leadership changed");
                            let _ = sender.send(now_leading);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "leader election; retrying");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    },
                    // A released Lease (no holder) is taken at once: the manager only
                    // re-reads the Lease when its own view expires, so read it anew.
                    Some(Ok(lease)) = changes.next() => {
                        let free = lease
                            .spec
                            .as_ref()
                            .and_then(|s| s.holder_identity.as_deref())
                            .is_none_or(str::is_empty);
                        if free && !*sender.borrow() {
                            match build().await {
                                Ok(fresh) => manager = fresh,
                                Err(e) => tracing::warn!(error = %e, "re-reading the Lease"),
                            }
                        }
                    }
                }
            }
        });
        Ok(Leadership {
            leading,
            stop,
            task,
        })
    }

    /// Releases the Lease (if held) and leaves the election.
    pub async fn resign(self) {
        self.stop.cancel();
        if tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            tracing::warn!("leaving the election took longer than 5 s");
        }
    }
}
