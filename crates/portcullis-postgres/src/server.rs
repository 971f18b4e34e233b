//! The PostgreSQL listener: accepts clients and runs a session task for each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ClientConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use portcullis_core::config::Connection;
use portcullis_core::gateway::Gateway;
use portcullis_sql::Classifier;

use crate::backend::Target;
use crate::cancel::CancelRegistry;
use crate::tls::{self, TlsError};

/// How long sessions get to wind down after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

pub struct PostgresServer {
    pub(crate) gateway: Arc<Gateway>,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    pub(crate) cancels: CancelRegistry,
    /// Shared by all sessions, so the statement-shape cache is too.
    pub(crate) classifier: Arc<Classifier>,
    /// Target TLS configurations, built once per connection.
    upstream_tls: Mutex<HashMap<String, Option<Arc<ClientConfig>>>>,
    /// The deployment's key for the `hash` masking style (never logged).
    mask_key: portcullis_core::secret::Secret,
    /// Compiled masking policies by policy name and version.
    masks: Mutex<HashMap<String, portcullis_mask::MaskPolicy>>,
}

impl PostgresServer {
    pub fn new(gateway: Arc<Gateway>, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        PostgresServer {
            gateway,
            tls,
            cancels: CancelRegistry::default(),
            classifier: Arc::new(Classifier::new(portcullis_sql::DEFAULT_CACHE_BYTES)),
            upstream_tls: Mutex::new(HashMap::new()),
            mask_key: portcullis_core::secret::Secret::new(String::new()),
            masks: Mutex::new(HashMap::new()),
        }
    }

    /// Sets the deployment key for the `hash` masking style. Without one,
    /// a random key is used for the life of the process (hashes then do
    /// not survive a restart).
    pub fn with_mask_key(mut self, key: portcullis_core::secret::Secret) -> Self {
        self.mask_key = key;
        self
    }

    /// The policy's masking rules compiled with the deployment key, or
    /// `None` when it masks nothing. Compiled once per policy version.
    pub(crate) fn mask_policy(
        &self,
        policy: &portcullis_core::policy::Policy,
    ) -> Result<Option<portcullis_mask::MaskPolicy>, ()> {
        if policy.mask_rules().is_empty() {
            return Ok(None);
        }
        let id = format!("{}\0{}", policy.name(), policy.version());
        let mut masks = self.masks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = masks.get(&id) {
            return Ok(Some(m.clone()));
        }
        let key = self.mask_key.expose().as_bytes().to_vec();
        let key = if key.is_empty() {
            let mut k = vec![0u8; 32];
            if portcullis_core::random::fill(&mut k).is_err() {
                tracing::error!("cannot generate a masking key");
                return Err(());
            }
            k
        } else {
            key
        };
        match portcullis_mask::MaskPolicy::compile(policy.mask_rules(), &key) {
            Ok(m) => {
                masks.insert(id, m.clone());
                Ok(Some(m))
            }
            Err(e) => {
                tracing::error!(policy = policy.name(), error = %e, "mask rules failed to compile");
                Err(())
            }
        }
    }

    pub(crate) fn target(&self, c: &Connection) -> Result<Target, TlsError> {
        let key = format!("{}\0{:?}\0{:?}", c.name, c.tls, c.ca);
        let cached = self
            .upstream_tls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let tls = match cached {
            Some(t) => t,
            None => {
                let t = tls::client_config(c.tls, c.ca.as_deref())?;
                self.upstream_tls
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, t.clone());
                t
            }
        };
        Ok(Target::new(
            c,
            tls,
            self.gateway.config().limits.connect_timeout,
        ))
    }

    /// Accepts clients until `shutdown` turns true, then lets sessions end.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut sessions = JoinSet::new();
        loop {
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let _ = tcp.set_nodelay(true);
                        let server = self.clone();
                        let sd = shutdown.clone();
                        sessions.spawn(async move { server.session(tcp, peer, sd).await });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            }
        }
        drop(listener);
        let drained = tokio::time::timeout(DRAIN, async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = sessions.len(),
                "sessions still running after the drain period; aborting them"
            );
            sessions.abort_all();
        }
    }
}
