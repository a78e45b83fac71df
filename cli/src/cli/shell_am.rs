//! `weft shell-am` (hidden): the distributed shell's application master, started by the ResourceManager
//! in the AM container with the command line `weft shell` built (`shell::plan::am_command`).

use clap::value_parser;
use weft_proto::Resource;

use super::{key_value, memory_mb};
use crate::shell::plan::AmSpec;

#[derive(Debug, clap::Args)]
pub(crate) struct ShellAmArgs {
    #[arg(long, value_name = "N", value_parser = value_parser!(u32).range(1..))]
    num_containers: u32,
    #[arg(long, value_name = "SIZE", value_parser = memory_mb)]
    container_memory: i64,
    #[arg(long, value_name = "N", value_parser = value_parser!(u32).range(1..i64::from(i32::MAX)))]
    container_vcores: u32,
    #[arg(long, value_name = "N", default_value_t = 1)]
    priority: i32,
    #[arg(long = "shell-env", value_name = "KEY=VALUE", value_parser = key_value)]
    shell_env: Vec<(String, String)>,
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

impl ShellAmArgs {
    pub(crate) fn into_spec(self) -> AmSpec {
        AmSpec {
            num_containers: self.num_containers,
            container: Resource::new(
                self.container_memory,
                i32::try_from(self.container_vcores).expect("clap limits vcores to i32"),
            ),
            priority: self.priority,
            shell_env: self.shell_env,
            command: self.command,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use super::*;
    use crate::shell::plan::{am_command, ShellPlan};

    #[test]
    fn the_am_reads_back_what_the_client_wrote() {
        let plan = ShellPlan {
            num_containers: 2,
            container: Resource::new(512, 3),
            master: Resource::new(1024, 1),
            name: "n".into(),
            queue: "q".into(),
            shell_env: vec![("K".into(), "v w".into())],
            max_app_attempts: Some(1),
            command: vec!["sh".into(), "-c".into(), "exit 3".into(), "--".into(), "-x".into()],
        };
        let mut argv = am_command(&plan);
        argv[0] = "weft".into();
        let Command::ShellAm(args) = Cli::try_parse_from(argv).unwrap().command else { panic!("not shell-am") };
        assert_eq!(
            args.into_spec(),
            AmSpec {
                num_containers: 2,
                container: Resource::new(512, 3),
                priority: 1,
                shell_env: vec![("K".into(), "v w".into())],
                command: vec!["sh".into(), "-c".into(), "exit 3".into(), "--".into(), "-x".into()],
            }
        );
    }
}
