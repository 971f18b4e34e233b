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
}

impl PostgresServer {
    pub fn new(gateway: Arc<Gateway>, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        PostgresServer {
            gateway,
            tls,
            cancels: CancelRegistry::default(),
            classifier: Arc::new(Classifier::new(portcullis_sql::DEFAULT_CACHE_BYTES)),
            upstream_tls: Mutex::new(HashMap::new()),
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
