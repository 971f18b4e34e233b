//! `portcullis serve`: wires configuration, store, recorder and listeners.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use portcullis_core::gateway::Gateway;
use portcullis_core::record::Recorder;
use portcullis_core::record::audit::AuditEntry;
use portcullis_postgres::PostgresServer;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use super::{load_config, open_store};

/// How long open API connections get to finish after a shutdown signal.
const API_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Events the recorder may hold before sessions wait for it.
const RECORDER_QUEUE: usize = 16 * 1024;

pub fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let store = open_store(&config)?;
    let (recorder, recorder_thread) = Recorder::start(
        store.clone(),
        RECORDER_QUEUE,
        std::sync::Arc::new(super::keys::load_or_create(&config)?),
    )
    .context("starting the recorder")?;
    let result = runtime.block_on(serve(config_path, config, store, recorder));
    drop(runtime);
    recorder_thread.finish();
    result
}

async fn serve(
    config_path: &Path,
    config: portcullis_core::config::Config,
    store: Arc<dyn portcullis_core::store::Store>,
    recorder: Recorder,
) -> anyhow::Result<ExitCode> {
    let tls = match &config.listen.tls {
        Some(t) => Some(portcullis_postgres::tls::server_config(&t.cert, &t.key)?),
        None => None,
    };
    let Some(pg_addr) = config.listen.postgres else {
        bail!(
            "{}: listen.postgres is not set: nothing to serve",
            config_path.display()
        );
    };
    let listener = TcpListener::bind(pg_addr)
        .await
        .with_context(|| format!("binding the PostgreSQL listener on {pg_addr}"))?;
    let bound = listener.local_addr()?;
    let gateway = Arc::new(Gateway::new(config, store, recorder.clone()));
    // The API serves bearer tokens: it uses TLS whenever the gateway has a certificate.
    let api_tls = tls.clone();
    let mask_key = super::keys::mask_key(gateway.config().as_ref())?;
    let server = Arc::new(PostgresServer::new(gateway.clone(), tls).with_mask_key(mask_key));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    tracing::info!(addr = %bound, "postgres listener ready");
    gateway
        .audit(AuditEntry::new(
            "gateway",
            "gateway.start",
            Some(config_path.display().to_string()),
            None,
        ))
        .await;
    let pg = tokio::spawn(server.clone().serve(listener, shutdown_rx.clone()));
    let api = match gateway.config().listen.api {
        Some(addr) => {
            // Bearer tokens must not cross the network in clear.
            if !addr.ip().is_loopback() && api_tls.is_none() {
                bail!(
                    "listen.api = {addr}: an API listener off loopback needs [listen.tls] (bearer tokens must not travel in clear)"
                );
            }
            portcullis_api::webhook::Webhooks::install(&gateway)
                .context("starting webhook delivery")?;
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the API listener on {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, tls = api_tls.is_some(), "API listener ready");
            let mcp =
                portcullis_mcp::Mcp::new(gateway.clone(), server.clone(), shutdown_rx.clone());
            let router = portcullis_api::router(gateway.clone()).merge(portcullis_mcp::router(mcp));
            Some(tokio::spawn(portcullis_api::serve(
                listener,
                router,
                api_tls,
                shutdown_rx,
            )))
        }
        None => None,
    };

    let sweeper = tokio::spawn(retention(gateway.clone()));
    let watcher = tokio::spawn(super::access::watch(gateway.clone()));
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => match portcullis_core::config::load(config_path) {
                Ok(c) => {
                    gateway.replace_config(c);
                    super::access::reauthorize(&gateway).await;
                    tracing::info!(config = %config_path.display(), "configuration reloaded");
                    gateway.audit(AuditEntry::new("signal:SIGHUP", "config.reload", Some(config_path.display().to_string()), None)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "configuration reload failed; keeping the previous one");
                    gateway.audit(AuditEntry::new("signal:SIGHUP", "config.reload_failed", Some(config_path.display().to_string()), Some(e.to_string()))).await;
                }
            },
        }
    }
    tracing::info!("shutting down");
    gateway
        .audit(AuditEntry::new("gateway", "gateway.stop", None, None))
        .await;
    sweeper.abort();
    watcher.abort();
    let _ = shutdown_tx.send(true);
    let _ = pg.await;
    if let Some(api) = api {
        // Streaming (MCP) connections may stay open: give them a moment, then close.
        let abort = api.abort_handle();
        match tokio::time::timeout(API_DRAIN, api).await {
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "API listener failed"),
            Ok(Err(e)) => tracing::error!(error = %e, "API listener failed"),
            Ok(Ok(Ok(()))) => {}
            Err(_) => {
                tracing::warn!("API connections still open after the drain period; closing them");
                abort.abort();
            }
        }
    }
    if recorder.flush().await.is_err() {
        tracing::error!("the recorder stopped before everything was written");
        return Ok(ExitCode::from(1));
    }
    let stats = recorder.stats();
    tracing::info!(
        events = stats.written.load(std::sync::atomic::Ordering::Relaxed),
        write_failures = stats
            .write_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        "recorder drained"
    );
    Ok(ExitCode::SUCCESS)
}

/// Removes closed sessions older than the configured retention, at start and
/// then periodically (a tenth of the retention, at most hourly).
async fn retention(gateway: Arc<Gateway>) {
    loop {
        let Some(keep) = gateway.config().retention else {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            continue;
        };
        let cutoff = portcullis_core::time::now_micros()
            .saturating_sub(i64::try_from(keep.as_micros()).unwrap_or(i64::MAX));
        let store = gateway.store().clone();
        match tokio::task::spawn_blocking(move || store.remove_sessions_ended_before(cutoff)).await
        {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::info!(sessions = n, "retention removed old sessions");
                gateway
                    .audit(AuditEntry::new(
                        "gateway",
                        "retention.removed",
                        None,
                        Some(format!(
                            "{n} sessions ended more than {} ago",
                            humantime::format_duration(keep)
                        )),
                    ))
                    .await;
            }
            Ok(Err(e)) => tracing::error!(error = %e, "retention sweep failed"),
            Err(e) => tracing::error!(error = %e, "retention sweep failed"),
        }
        let pause = (keep / 10).clamp(
            std::time::Duration::from_millis(100),
            std::time::Duration::from_secs(3600),
        );
        tokio::time::sleep(pause).await;
    }
}
