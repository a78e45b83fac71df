//! What `weft shell` asks for, checked against the cluster's maximum before anything is submitted, and
//! the command line it gives its application master. Plain data and pure functions.

use weft_proto::Resource;
use weft_yarn_client::capacity::{self, Ask};

use crate::error::CliError;

/// The executable's name in the AM container's working directory (its LocalResource name).
pub(crate) const AM_EXECUTABLE: &str = "weft";
/// YARN's distributed shell submits with YARN's default application type.
pub(crate) const APPLICATION_TYPE: &str = "YARN";
/// The priority of the shell containers' ask (the AM container is 0).
pub(crate) const CONTAINER_PRIORITY: i32 = 1;

/// A `weft shell` run, as the client submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShellPlan {
    pub(crate) num_containers: u32,
    pub(crate) container: Resource,
    pub(crate) master: Resource,
    pub(crate) name: String,
    pub(crate) queue: String,
    pub(crate) shell_env: Vec<(String, String)>,
    /// `None`: the cluster's `yarn.resourcemanager.am.max-attempts`.
    pub(crate) max_app_attempts: Option<u32>,
    pub(crate) command: Vec<String>,
}

/// What the application master runs, as it reads its own command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AmSpec {
    pub(crate) num_containers: u32,
    pub(crate) container: Resource,
    pub(crate) priority: i32,
    pub(crate) shell_env: Vec<(String, String)>,
    pub(crate) command: Vec<String>,
}

/// Refuses asks above `maximum`, naming each flag, its value and the maximum; nothing is submitted then.
pub(crate) fn check_capacity(plan: &ShellPlan, maximum: Resource) -> Result<(), CliError> {
    let asks = [
        Ask { memory: "--container-memory", vcores: "--container-vcores", resource: plan.container },
        Ask { memory: "--master-memory", vcores: "--master-vcores", resource: plan.master },
    ];
    capacity::check_capacity(&asks, maximum)
}

/// The AM container's command: `./weft shell-am <the container args> -- CMD ARGS…`.
pub(crate) fn am_command(plan: &ShellPlan) -> Vec<String> {
    let mut command = vec![
        format!("./{AM_EXECUTABLE}"),
        "shell-am".to_owned(),
        "--num-containers".to_owned(),
        plan.num_containers.to_string(),
        "--container-memory".to_owned(),
        plan.container.memory_mb.to_string(),
        "--container-vcores".to_owned(),
        plan.container.vcores.to_string(),
        "--priority".to_owned(),
        CONTAINER_PRIORITY.to_string(),
    ];
    for (key, value) in &plan.shell_env {
        command.push("--shell-env".to_owned());
        command.push(format!("{key}={value}"));
    }
    command.push("--".to_owned());
    command.extend(plan.command.iter().cloned());
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> ShellPlan {
        ShellPlan {
            num_containers: 3,
            container: Resource::new(512, 1),
            master: Resource::new(512, 1),
            name: "DistributedShell".into(),
            queue: "default".into(),
            shell_env: vec![("GREETING".into(), "hello world".into())],
            max_app_attempts: None,
            command: vec!["sh".into(), "-c".into(), "echo $GREETING --".into()],
        }
    }

    fn check(plan: &ShellPlan, maximum: Resource, expected: Result<(), &str>) {
        let actual = check_capacity(plan, maximum).map_err(|e| (e.to_string(), e.exit_code()));
        assert_eq!(actual, expected.map_err(|m| (m.to_owned(), 64)));
    }

    #[test]
    fn asks_within_the_maximum_pass() {
        check(&plan(), Resource::new(8192, 32), Ok(()));
        check(&plan(), Resource::new(512, 1), Ok(()));
    }

    #[test]
    fn asks_above_the_maximum_name_flag_value_and_maximum() {
        let mut big = plan();
        big.container.memory_mb = 16384;
        check(
            &big,
            Resource::new(8192, 32),
            Err("--container-memory 16384 MB is above the cluster's maximum allocation of 8192 MB \
                 (yarn.scheduler.maximum-allocation-mb); nothing was submitted"),
        );
        big.master.vcores = 64;
        check(
            &big,
            Resource::new(8192, 32),
            Err("--container-memory 16384 MB is above the cluster's maximum allocation of 8192 MB \
                 (yarn.scheduler.maximum-allocation-mb); --master-vcores 64 vcores is above the cluster's \
                 maximum allocation of 32 vcores (yarn.scheduler.maximum-allocation-vcores); nothing was submitted"),
        );
    }

    #[test]
    fn am_command_carries_the_container_args_and_the_user_command() {
        assert_eq!(
            am_command(&plan()),
            [
                "./weft",
                "shell-am",
                "--num-containers",
                "3",
                "--container-memory",
                "512",
                "--container-vcores",
                "1",
                "--priority",
                "1",
                "--shell-env",
                "GREETING=hello world",
                "--",
                "sh",
                "-c",
                "echo $GREETING --",
            ]
        );
    }
}
