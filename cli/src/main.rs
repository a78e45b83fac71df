//! `weft`: rewrite YARN's single-dash options, parse, load the configuration, run the command, and turn
//! the outcome into an exit status (0 ok, 1 failed, 64 bad usage or configuration; `submit` with the
//! driver here passes on a failed driver's status).

use std::process::ExitCode;

use clap::Parser;
use weft_cli::{Cli, EXIT_USAGE};
use weft_config::{ClientConfig, Settings};

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(weft_cli::yarn_argv(std::env::args_os())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS };
        }
    };
    weft_spark::init_logging(cli.default_log_level());
    let settings = match Settings::load_optional(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("weft: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let config = ClientConfig::from_settings(&settings);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("weft: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(weft_cli::run(cli, &config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("weft: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
