//! `portcullis mcp`: an MCP server on stdio for one agent (desktop agents
//! such as Claude Desktop or Claude Code start it as a subprocess). The
//! agent's token comes from `PORTCULLIS_TOKEN`; statements run through the
//! same PostgreSQL adapter, guardrails and recording as `serve`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use portcullis_core::gateway::Gateway;
use portcullis_core::record::Recorder;
use portcullis_core::secret::Secret;
use portcullis_mcp::Mcp;
use portcullis_postgres::PostgresServer;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use super::{load_config, open_store};

/// The environment variable holding the agent's token.
pub const TOKEN_ENV: &str = "PORTCULLIS_TOKEN";
/// Events the recorder may hold before sessions wait for it.
const RECORDER_QUEUE: usize = 4096;
/// Time agents' sessions get to close and be recorded at exit.
const DRAIN: Duration = Duration::from_secs(10);

pub fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let token = std::env::var(TOKEN_ENV).with_context(|| {
        format!("{TOKEN_ENV} is not set: put the agent's token (portcullis token create) in it")
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let store = open_store(&config)?;
    let (recorder, recorder_thread) = Recorder::start(
        store.clone(),
        RECORDER_QUEUE,
        Arc::new(super::keys::load_or_create(&config)?),
    )
    .context("starting the recorder")?;
    let result = runtime.block_on(serve(config, store, recorder, Secret::new(token)));
    drop(runtime);
    recorder_thread.finish();
    result
}

async fn serve(
    config: portcullis_core::config::Config,
    store: Arc<dyn portcullis_core::store::Store>,
    recorder: Recorder,
    token: Secret,
) -> anyhow::Result<ExitCode> {
    // Agents get the same masking as every client: the deployment's key.
    let mask_key = super::keys::mask_key(&config)?;
    let gateway = Arc::new(Gateway::new(config, store, recorder.clone()));
    let postgres = Arc::new(PostgresServer::new(gateway.clone(), None).with_mask_key(mask_key));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mcp = Mcp::new(gateway.clone(), postgres, shutdown_rx);
    // Revocations and expiry end this process's sessions too.
    let watcher = tokio::spawn(super::access::watch(gateway.clone()));
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let served = tokio::select! {
        r = portcullis_mcp::serve_stdio(mcp, token) => r.map_err(anyhow::Error::from),
        _ = term.recv() => Ok(()),
        _ = int.recv() => Ok(()),
    };
    watcher.abort();
    // The agent's sessions are closing on their own (their clients were
    // dropped with the MCP session): let them finish as the client quitting,
    // then tell any left over that the gateway is going, and let them record it.
    let wait_for_sessions = |limit: Duration| {
        let gateway = gateway.clone();
        async move {
            let deadline = Instant::now() + limit;
            while !gateway.live().snapshot().is_empty() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for_sessions(Duration::from_secs(1)).await;
    let _ = shutdown_tx.send(true);
    wait_for_sessions(DRAIN).await;
    if recorder.flush().await.is_err() {
        tracing::error!("the recorder stopped before everything was written");
        return Ok(ExitCode::from(1));
    }
    served?;
    Ok(ExitCode::SUCCESS)
}
