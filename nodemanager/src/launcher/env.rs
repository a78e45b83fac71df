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

/// What the launch wrapper runs under `/bin/sh` with recovery on: the container's command as
/// `"$@"`, then its exit status written to `<file>.tmp` and renamed to `<file>`, then the same exit
/// status. The shell catches SIGHUP, SIGINT and SIGTERM with a no-op trap, so a stop's SIGTERM to
/// the process group ends the command (whose handlers are reset at exec) and the shell still
/// records how; a trapped signal waits for the foreground command, as POSIX says.
const RECORDING_SCRIPT: &str = r#"trap : HUP INT TERM
f=$1; mv=$2; shift 2
"$@"
c=$?
{ printf '%s\n' "$c" >"$f.tmp" && "$mv" -f "$f.tmp" "$f"; } 2>/dev/null
exit "$c""#;

/// argv of the launch wrapper around `argv`: it records the exit code in `exit_code_file` (with the
/// `mv` program at `mv`) and exits with the same code.
pub(crate) fn recording_argv(argv: Vec<String>, exit_code_file: &Path, mv: &str) -> Vec<String> {
    let mut wrapped = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        RECORDING_SCRIPT.to_owned(),
        "weft-container".to_owned(),
        exit_code_file.display().to_string(),
        mv.to_owned(),
    ];
    wrapped.extend(argv);
    wrapped
}

/// Where `program` would be found as exec does it (a name with a `/` relative to `work_dir`, else
/// searched in `path`, the container's PATH), so a program that cannot be run fails to launch with
/// the error a direct exec gives (ENOENT, EACCES) even when a wrapper runs it. `is_executable`
/// answers for one candidate file.
pub(crate) fn find_program(
    program: &str,
    path: Option<&str>,
    work_dir: &Path,
    is_executable: impl Fn(&Path) -> std::io::Result<()>,
) -> std::io::Result<std::path::PathBuf> {
    if program.contains('/') {
        let candidate = work_dir.join(program);
        return is_executable(&candidate).map(|()| candidate);
    }
    let mut first_error = None;
    for dir in path.unwrap_or("/bin:/usr/bin").split(':') {
        let candidate = Path::new(if dir.is_empty() { "." } else { dir }).join(program);
        let candidate = if candidate.is_relative() { work_dir.join(candidate) } else { candidate };
        match is_executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| std::io::Error::from_raw_os_error(libc::ENOENT)))
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

    #[test]
    fn the_recording_wrapper_runs_the_command_as_its_arguments() {
        let wrapped = recording_argv(vec!["sleep".into(), "5".into()], Path::new("/w/.exitcode"), "/bin/mv");
        assert_eq!(wrapped[..2], ["/bin/sh", "-c"]);
        assert_eq!(wrapped[3..], ["weft-container", "/w/.exitcode", "/bin/mv", "sleep", "5"]);
        assert!(wrapped[2].contains("\"$@\""), "{}", wrapped[2]);
    }

    #[test]
    fn programs_are_found_as_exec_finds_them() {
        let present = |p: &Path| match p.to_str() {
            Some("/usr/bin/tool" | "/w/./run.sh") => Ok(()),
            Some("/bin/locked") => Err(std::io::Error::from_raw_os_error(libc::EACCES)),
            _ => Err(std::io::Error::from_raw_os_error(libc::ENOENT)),
        };
        let w = Path::new("/w");
        assert_eq!(find_program("tool", Some("/bin:/usr/bin"), w, present).unwrap(), Path::new("/usr/bin/tool"));
        assert_eq!(find_program("./run.sh", None, w, present).unwrap(), Path::new("/w/./run.sh"));
        let missing = find_program("nope", Some("/bin:/usr/bin"), w, present).unwrap_err();
        assert_eq!(missing.raw_os_error(), Some(libc::ENOENT));
        let locked = find_program("locked", Some("/bin:/usr/bin"), w, present).unwrap_err();
        assert_eq!(locked.raw_os_error(), Some(libc::EACCES));
    }
}
