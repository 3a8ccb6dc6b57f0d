//! Resolve: a server's desired state with its Secrets, and a registry's HTTP client with
//! its credentials, both through a [`SecretSource`].

use std::sync::Arc;

use crate::api::McpServer;
use crate::api::conditions::Reason;
use crate::engine::plan::Refusal;
use crate::engine::{self, Desired, ResolvedSecrets, SecretNeed};
use crate::provider::http::{ClientConfig, RegistryClient};
use crate::provider::{ProviderModel, model_for};
use crate::reconcile::ports::SecretSource;
use crate::reconcile::refs::{RegistryView, SecretError, server_secret_namespace};
use crate::secret::SecretValue;

/// Maps a provider to the base URL to use instead of the registry's (the demo's simulator).
pub type BaseUrlOverride = Arc<dyn Fn(&dyn ProviderModel) -> String + Send + Sync>;

/// A server's desired fields and the Secret values they hold (for masking messages).
pub struct Resolved {
    pub desired: Desired,
    pub secret_values: Vec<SecretValue>,
}

fn missing(e: SecretError) -> Refusal {
    Refusal {
        reason: Reason::SecretNotFound,
        message: e.to_string(),
    }
}

/// Desired state of one server, with its Secrets read from its own namespace.
pub async fn desired_of(
    server: &McpServer,
    secrets: &impl SecretSource,
) -> Result<Resolved, Refusal> {
    let ns = server_secret_namespace(server);
    let mut resolved = ResolvedSecrets::default();
    let mut secret_values = Vec::new();
    for need in engine::secret_needs(&server.spec) {
        match need {
            SecretNeed::HeaderKey {
                header,
                secret,
                key,
            } => {
                let v = secrets.key(&ns, &secret, &key).await.map_err(missing)?;
                resolved.headers.insert(header, v.expose().to_string());
                secret_values.push(v);
            }
            SecretNeed::WholeSecret { secret } => {
                let all = secrets.all(&ns, &secret).await.map_err(missing)?;
                let mut credentials = std::collections::BTreeMap::new();
                for (k, v) in all {
                    credentials.insert(k, v.expose().to_string());
                    secret_values.push(v);
                }
                resolved.credentials = Some(credentials);
            }
        }
    }
    let name = server.metadata.name.as_deref().unwrap_or_default();
    let desired = engine::desired(&server.spec, name, &resolved).map_err(|e| Refusal {
        reason: Reason::InvalidSpec,
        message: e.to_string(),
    })?;
    Ok(Resolved {
        desired,
        secret_values,
    })
}

/// The HTTP client of a registry, with its credentials resolved. `base_url_override`
/// replaces the registry's base URL (the demo's in-process simulator).
pub async fn connect(
    view: &RegistryView,
    secrets: &impl SecretSource,
    base_url_override: Option<&BaseUrlOverride>,
) -> Result<RegistryClient, Refusal> {
    let conn = &view.connection;
    let model = model_for(&conn.provider);
    let kind = model.kind();
    let label = view.label();
    let not_ready = |message: String| Refusal {
        reason: Reason::RegistryNotReady,
        message,
    };
    let mut auth = Vec::new();
    for header in model.auth_headers() {
        let ns = view
            .secret_namespace(&header.secret)
            .map_err(|e| not_ready(format!("{label}: {e}")))?;
        let value = secrets
            .key(&ns, &header.secret.name, &header.secret.key)
            .await
            .map_err(|e| Refusal {
                reason: Reason::SecretNotFound,
                message: format!("{label}: {e}"),
            })?;
        auth.push((header, value));
    }
    let base = match base_url_override {
        Some(f) => f(model.as_ref()),
        None => conn
            .base_url
            .clone()
            .or_else(|| kind.default_base_url().map(str::to_string))
            .ok_or_else(|| {
                not_ready(format!(
                    "{label}: baseUrl is required for the {kind} provider"
                ))
            })?,
    };
    let config = ClientConfig::for_connection(conn, &base, base_url_override.is_some())
        .map_err(|e| not_ready(format!("{label}: {e}")))?;
    RegistryClient::new(model, config, auth).map_err(|e| not_ready(format!("{label}: {e}")))
}
