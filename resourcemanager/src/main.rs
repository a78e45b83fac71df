//! `resourcemanager`: loads the configuration, binds every port, serves until SIGTERM or Ctrl-C.

use std::path::PathBuf;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use weft_config::{RmConfig, Settings, EXIT_USAGE};
use weft_resourcemanager::daemon::{self, Listeners};

/// Weft's ResourceManager: schedules containers on NodeManagers and runs applications' masters.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// A flat YAML map of YARN keys (e.g. yarn.resourcemanager.address); without it every default applies.
    #[arg(long)]
    config: Option<PathBuf>,
    /// After binding, write the bound addresses as JSON to this file (for scripts and tests).
    #[arg(long)]
    ports_file: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    let config = match Settings::load_optional(args.config.as_deref()).and_then(|s| RmConfig::from_settings(&s)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("resourcemanager: {e}");
            std::process::exit(EXIT_USAGE);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    if let Err(e) = runtime.block_on(serve(config, args.ports_file)) {
        tracing::error!("{e:#}");
        eprintln!("resourcemanager: {e:#}");
        std::process::exit(1);
    }
}

async fn serve(config: RmConfig, ports_file: Option<PathBuf>) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&config).await?;
    if let Some(path) = ports_file {
        write_atomically(&path, &serde_json::to_vec(&listeners.addresses)?)?;
    }
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        on_signal.cancel();
    });
    daemon::run(config, listeners, shutdown).await
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Writes to a temp file beside `path`, then renames, so readers never see half a file.
fn write_atomically(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(tmp, path)
}
