//! `weft hadoop-conf DIR`: writes the `yarn-site.xml` and `core-site.xml` a Hadoop client needs for
//! this cluster, so `HADOOP_CONF_DIR=DIR spark-submit --master yarn …` submits to Weft.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use weft_config::ClientConfig;

use crate::error::CliError;
use crate::format::hadoop_site;

#[derive(Debug, Args)]
pub(crate) struct HadoopConfArgs {
    /// Directory to write yarn-site.xml and core-site.xml into (created if missing; existing files
    /// of those names are replaced)
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub(crate) async fn run(args: HadoopConfArgs, config: &ClientConfig) -> Result<ExitCode, CliError> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::failed(format!("cannot create the directory {}: {e}", dir.display())))?;
    for (name, text) in hadoop_site::files(config) {
        let path = dir.join(name);
        let temp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&temp, text)
            .and_then(|()| std::fs::rename(&temp, &path))
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
    }
    super::emit(&format!(
        "wrote yarn-site.xml and core-site.xml to {}\nexport HADOOP_CONF_DIR={}\n",
        dir.display(),
        dir.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
