//! `weft shell --num-containers N [--container-memory SIZE] [--container-vcores N] [--master-memory SIZE]
//! [--master-vcores N] [--name NAME] [--queue Q] [--shell-env K=V]… [--max-app-attempts N] -- CMD ARGS…`

use clap::value_parser;
use weft_proto::Resource;

use super::{key_value, memory_mb};
use crate::shell::plan::ShellPlan;

#[derive(Debug, clap::Args)]
pub(crate) struct ShellArgs {
    /// How many containers run the command
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = value_parser!(u32).range(1..))]
    num_containers: u32,
    /// Memory of each container: 512m, 4g, or MiB (4096)
    #[arg(long, value_name = "SIZE", default_value = "1g", allow_hyphen_values = true, value_parser = memory_mb)]
    container_memory: i64,
    /// Virtual cores of each container
    #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true,
          value_parser = value_parser!(u32).range(1..i64::from(i32::MAX)))]
    container_vcores: u32,
    /// Memory of the application master's container
    #[arg(long, value_name = "SIZE", default_value = "512m", allow_hyphen_values = true, value_parser = memory_mb)]
    master_memory: i64,
    /// Virtual cores of the application master's container
    #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true,
          value_parser = value_parser!(u32).range(1..i64::from(i32::MAX)))]
    master_vcores: u32,
    /// Application name
    #[arg(long, default_value = "DistributedShell")]
    name: String,
    /// Queue to submit to
    #[arg(long, default_value = "default")]
    queue: String,
    /// An environment variable for the command, KEY=VALUE; repeatable
    #[arg(long = "shell-env", value_name = "KEY=VALUE", value_parser = key_value)]
    shell_env: Vec<(String, String)>,
    /// Attempts the application gets if its master dies (capped by the cluster's
    /// yarn.resourcemanager.am.max-attempts, which is also the default)
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = value_parser!(u32).range(1..i64::from(i32::MAX)))]
    max_app_attempts: Option<u32>,
    /// The command to run in each container, and its arguments (no shell unless you ask for one)
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// Clap keeps the vcore counts under `i32::MAX`, the wire type.
fn vcores(n: u32) -> i32 {
    i32::try_from(n).expect("clap limits vcores to i32")
}

impl ShellArgs {
    pub(crate) fn into_plan(self) -> ShellPlan {
        ShellPlan {
            num_containers: self.num_containers,
            container: Resource::new(self.container_memory, vcores(self.container_vcores)),
            master: Resource::new(self.master_memory, vcores(self.master_vcores)),
            name: self.name,
            queue: self.queue,
            shell_env: self.shell_env,
            max_app_attempts: self.max_app_attempts,
            command: self.command,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::Command;
    use super::*;

    fn plan(line: &str) -> Result<ShellPlan, String> {
        match parse(line)?.command {
            Command::Shell(args) => Ok(args.into_plan()),
            other => panic!("{line} parsed as {other:?}"),
        }
    }

    #[test]
    fn flags_and_defaults() {
        let p = plan(
            "weft shell --num-containers 3 --container-memory 512m --container-vcores 2 \
                      --shell-env A=1 --shell-env B=x=y -- sh -c true",
        )
        .unwrap();
        assert_eq!(p.num_containers, 3);
        assert_eq!(p.container, Resource::new(512, 2));
        assert_eq!(p.master, Resource::new(512, 1));
        assert_eq!((p.name.as_str(), p.queue.as_str()), ("DistributedShell", "default"));
        assert_eq!(p.shell_env, [("A".into(), "1".into()), ("B".into(), "x=y".into())]);
        assert_eq!(p.max_app_attempts, None);
        assert_eq!(p.command, ["sh", "-c", "true"]);
        let p =
            plan("weft shell --num-containers 1 --master-memory 2g --max-app-attempts 1 --name n --queue q -- true")
                .unwrap();
        assert_eq!((p.container.memory_mb, p.master.memory_mb, p.max_app_attempts), (1024, 2048, Some(1)));
    }

    fn refused(line: &str, needles: &[&str]) {
        let err = plan(line).unwrap_err();
        for needle in needles {
            assert!(err.contains(needle), "{line}: {needle} not in {err}");
        }
    }

    #[test]
    fn bad_values_name_the_flag_and_the_value() {
        refused("weft shell --num-containers 1 --container-memory 12x -- true", &["--container-memory", "12x"]);
        refused(
            "weft shell --num-containers 1 --master-memory 1.5g -- true",
            &["--master-memory", "1.5g", "fractional"],
        );
        refused("weft shell --num-containers -1 -- true", &["--num-containers", "-1"]);
        // A negative size is a size error naming the value, not "unexpected argument".
        for flag in ["--container-memory", "--master-memory"] {
            let line = format!("weft shell --num-containers 1 {flag} -1 -- true");
            let err = plan(&line).unwrap_err();
            assert!(err.contains(flag) && err.contains("-1") && !err.contains("unexpected argument"), "{err}");
        }
        refused("weft shell --num-containers 0 -- true", &["--num-containers", "0"]);
        refused("weft shell --num-containers 1 --container-vcores -2 -- true", &["--container-vcores", "-2"]);
        refused("weft shell --num-containers 1 --shell-env NOEQUALS -- true", &["--shell-env", "NOEQUALS"]);
        refused("weft shell --num-containers 1", &["CMD"]);
    }
}
