//! `nodemanager`: loads the configuration, binds both ports, runs containers until SIGTERM or
//! Ctrl-C (or the ResourceManager's SHUTDOWN), then stops them and exits.

use std::path::PathBuf;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use weft_config::{NmConfig, Settings, EXIT_USAGE};
use weft_nodemanager::daemon::{self, Listeners};

const PROGRAM: &str = "nodemanager";

/// Weft's NodeManager: runs containers for the ResourceManager and serves their logs.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// A flat YAML map of YARN keys (e.g. yarn.nodemanager.resource.memory-mb); without it every default applies.
    #[arg(long)]
    config: Option<PathBuf>,
    /// After binding, write the bound addresses as JSON ({"rpc":…,"http":…}) to this file.
    #[arg(long)]
    ports_file: Option<PathBuf>,
}

fn usage_error(message: impl std::fmt::Display) -> ! {
    weft_daemon::say(PROGRAM, message);
    std::process::exit(EXIT_USAGE);
}

fn main() {
    let args = Args::parse();
    let config = Settings::load_optional(args.config.as_deref())
        .and_then(|s| NmConfig::from_settings(&s))
        .unwrap_or_else(|e| usage_error(e));
    let total = daemon::detect_resources(&config).unwrap_or_else(|e| usage_error(e));
    weft_daemon::log::init("info");
    weft_daemon::exit_on_panic(PROGRAM);
    tracing::info!(
        memory_mb = total.memory_mb,
        vcores = total.vcores,
        detected = config.memory_mb.is_none() || config.vcores.is_none(),
        "resources for containers"
    );
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    if let Err(e) = runtime.block_on(serve(config, total, args.ports_file)) {
        tracing::error!("{e:#}");
        weft_daemon::say(PROGRAM, format_args!("{e:#}"));
        std::process::exit(1);
    }
}

async fn serve(config: NmConfig, total: weft_proto::Resource, ports_file: Option<PathBuf>) -> anyhow::Result<()> {
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
        tracing::info!("signal received");
        on_signal.cancel();
    });
    daemon::run(config, total, listeners, shutdown).await
}
