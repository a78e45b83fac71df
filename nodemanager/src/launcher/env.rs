//! A container's environment and argv, as YARN builds them: the NodeManager's PATH and LANG, YARN's
//! variables, then the launch context's own on top. Pure: every input is an argument.

use std::collections::BTreeMap;
use std::path::Path;

use crate::container::LaunchSpec;

/// What the node contributes to every container's environment.
#[derive(Debug, Clone)]
pub(crate) struct NodeEnv {
    /// The NodeManager's own PATH and LANG, when it has them.
    pub(crate) path: Option<String>,
    pub(crate) lang: Option<String>,
    /// The NodeManager's JAVA_HOME, passed on as YARN whitelists it (Spark's commands start with
    /// `$JAVA_HOME/bin/java`).
    pub(crate) java_home: Option<String>,
    pub(crate) host: String,
    pub(crate) rpc_port: u16,
    pub(crate) http_port: u16,
}

/// Directories of one container.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContainerDirs<'a> {
    pub(crate) work_dir: &'a Path,
    pub(crate) log_dir: &'a Path,
    pub(crate) app_local_dirs: &'a [std::path::PathBuf],
}

fn join_paths(paths: &[std::path::PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(",")
}

/// The whole environment, sorted by name; the launch context's values win.
pub(crate) fn environment(spec: &LaunchSpec, node: &NodeEnv, dirs: ContainerDirs<'_>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    if let Some(path) = &node.path {
        set("PATH", path.clone());
    }
    if let Some(lang) = &node.lang {
        set("LANG", lang.clone());
    }
    if let Some(java_home) = &node.java_home {
        set("JAVA_HOME", java_home.clone());
    }
    if spec.hadoop.is_some() {
        set("HADOOP_TOKEN_FILE_LOCATION", dirs.work_dir.join(super::TOKEN_FILE).display().to_string());
    }
    let work_dir = dirs.work_dir.display().to_string();
    set("CONTAINER_ID", spec.id.to_string());
    set("NM_HOST", node.host.clone());
    set("NM_PORT", node.rpc_port.to_string());
    set("NM_HTTP_PORT", node.http_port.to_string());
    set("LOG_DIRS", dirs.log_dir.display().to_string());
    set("LOCAL_DIRS", join_paths(dirs.app_local_dirs));
    set("PWD", work_dir.clone());
    set("HOME", work_dir);
    set("USER", spec.user.clone());
    set("LOGNAME", spec.user.clone());
    set("HADOOP_USER_NAME", spec.user.clone());
    for (key, value) in &spec.environment {
        env.insert(key.clone(), value.clone());
    }
    env
}

/// argv with `<LOG_DIR>` replaced by the container's log directory in every argument.
pub(crate) fn argv(spec: &LaunchSpec, log_dir: &Path) -> Vec<String> {
    let log_dir = log_dir.display().to_string();
    spec.command.iter().map(|arg| arg.replace("<LOG_DIR>", &log_dir)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::Resource;

    #[test]
    fn yarns_variables_then_the_callers_on_top() {
        let spec = LaunchSpec {
            id: "container_1_0001_01_000002".parse().unwrap(),
            user: "alice".into(),
            command: vec!["sh".into(), "-c".into(), "echo x > <LOG_DIR>/out; cat <LOG_DIR>/out".into()],
            environment: vec![("LANG".into(), "C".into()), ("EXTRA".into(), "1".into())],
            local_resources: Vec::new(),
            resource: Resource::new(1024, 1),
            hadoop: None,
            container_token: Default::default(),
            acls: Default::default(),
        };
        let node = NodeEnv {
            path: Some("/bin".into()),
            lang: Some("en_US.UTF-8".into()),
            java_home: Some("/jdk".into()),
            host: "h1".into(),
            rpc_port: 8041,
            http_port: 8042,
        };
        let locals = ["/l1/a".into(), "/l2/a".into()];
        let dirs = ContainerDirs { work_dir: Path::new("/w"), log_dir: Path::new("/logs/c"), app_local_dirs: &locals };
        let env = environment(&spec, &node, dirs);
        let text: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            text.join(" "),
            "CONTAINER_ID=container_1_0001_01_000002 EXTRA=1 HADOOP_USER_NAME=alice HOME=/w JAVA_HOME=/jdk LANG=C LOCAL_DIRS=/l1/a,/l2/a \
             LOGNAME=alice LOG_DIRS=/logs/c NM_HOST=h1 NM_HTTP_PORT=8042 NM_PORT=8041 PATH=/bin PWD=/w USER=alice"
        );
        assert_eq!(argv(&spec, Path::new("/logs/c"))[2], "echo x > /logs/c/out; cat /logs/c/out");
    }
}
