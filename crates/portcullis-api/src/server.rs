//! The API listener: plain HTTP, or HTTPS with the gateway's certificate.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("API listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves `router` on `listener` until `shutdown` turns true. With `tls`,
/// every connection must complete a TLS handshake first.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    let stopping = async move {
        while !*shutdown.borrow_and_update() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    };
    let Some(tls) = tls else {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopping)
        .await?;
        return Ok(());
    };
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(stopping);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "API accept failed");
                    continue;
                }
            },
            () = &mut stopping => return Ok(()),
        };
        let acceptor = acceptor.clone();
        let service = router.clone().layer(axum::Extension(ConnectInfo(peer)));
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(
                std::time::Duration::from_secs(10),
                acceptor.accept(tcp),
            )
            .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "API TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let served = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "API connection ended with an error");
            }
        });
    }
}
