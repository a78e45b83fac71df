//! `resourcemanager`: loads the configuration, binds every port, serves until SIGTERM or Ctrl-C.

use std::path::PathBuf;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use weft_config::{RmConfig, Settings, EXIT_USAGE};
use weft_resourcemanager::daemon::{self, Listeners};

const PROGRAM: &str = "resourcemanager";

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
            weft_daemon::say(PROGRAM, e);
            std::process::exit(EXIT_USAGE);
        }
    };
    weft_daemon::log::init("info");
    weft_daemon::exit_on_panic(PROGRAM);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    if let Err(e) = runtime.block_on(serve(config, args.ports_file)) {
        tracing::error!("{e:#}");
        weft_daemon::say(PROGRAM, format_args!("{e:#}"));
        std::process::exit(1);
    }
}

async fn serve(config: RmConfig, ports_file: Option<PathBuf>) -> anyhow::Result<()> {
    // Signals are watched before anyone can learn the ports and send one.
    let signal = weft_daemon::shutdown_signal();
    let listeners = Listeners::bind(&config).await?;
    if let Some(path) = ports_file {
        weft_daemon::write_ports_file(&path, &serde_json::to_vec(&listeners.addresses)?)?;
    }
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutting down");
        on_signal.cancel();
    });
    daemon::run(config, listeners, shutdown).await
}
