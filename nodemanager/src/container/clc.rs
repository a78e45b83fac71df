//! A Hadoop `ContainerLaunchContextProto` (an application submitted over Hadoop IPC: Spark's AM and
//! executors) as a Weft launch, the way YARN's `launch_container.sh` runs it. Pure.
//!
//! - `{{VAR}}` becomes `$VAR` and `<CPS>` becomes `:` in every environment value and in the command
//!   (`<LOG_DIR>` is replaced by the launcher, as for every container);
//! - the environment is written as `export K="V"` lines, so `$PWD`-style references expand in the
//!   container as they do under YARN, then the command (its parts joined with spaces) runs in the
//!   same bash: Spark's commands carry their own quoting and redirections (`1><LOG_DIR>/stdout`);
//! - local resources must be `file:` URLs (Weft localizes from the node's filesystem: a shared or
//!   local path, with `fs.defaultFS=file:///`);
//! - the context's tokens (WRITABLE or PROTOBUF) become the container's token file, PROTOBUF.

use weft_hadoop_ipc::credentials::Credentials;
use weft_hadoop_ipc::yarn::{
    ContainerLaunchContextProto, LocalResourceProto, LocalResourceTypeProto, LocalResourceVisibilityProto,
};

use super::InvalidLaunch;
use crate::hadoop_localize::{check_link, ResourceKind, UrlResource, Visibility};

/// What a Hadoop launch context adds to a container's launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HadoopExtras {
    /// `file:` resources to localize into the working directory.
    pub(crate) resources: Vec<UrlResource>,
    /// The container's token file (`HADOOP_TOKEN_FILE_LOCATION`), PROTOBUF form.
    pub(crate) token_file: Vec<u8>,
}

/// A launch context converted: the argv to run and what it needs besides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HadoopLaunch {
    pub(crate) command: Vec<String>,
    pub(crate) extras: HadoopExtras,
    /// The context's `application_ACLs`.
    pub(crate) acls: weft_daemon::acl::AppAcls,
}

fn invalid(message: impl Into<String>) -> InvalidLaunch {
    InvalidLaunch::HadoopContext(message.into())
}

/// `{{VAR}}` → `$VAR`, `<CPS>` → `:` (YARN's cross-platform expansion, for Linux).
pub(crate) fn expand(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if is_variable_name(&after[..end]) => {
                out.push('$');
                out.push_str(&after[..end]);
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("<CPS>", ":")
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A value inside double quotes in bash, `$` left to expand as YARN's script lets it.
fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The bash script a launch context runs as: exports, then the command.
fn script(context: &ContainerLaunchContextProto) -> Result<String, InvalidLaunch> {
    let mut script = String::from("set -o pipefail -e\n");
    for entry in &context.environment {
        let key = entry.key();
        if !is_variable_name(key) {
            return Err(invalid(format!("environment variable name {key:?} is not a valid name")));
        }
        script.push_str(&format!("export {key}={}\n", double_quoted(&expand(entry.value()))));
    }
    let command = context.command.join(" ");
    if command.trim().is_empty() {
        return Err(InvalidLaunch::EmptyCommand);
    }
    script.push_str(&expand(&command));
    script.push('\n');
    Ok(script)
}

fn resource(link: &str, value: Option<&LocalResourceProto>) -> Result<UrlResource, InvalidLaunch> {
    let bad = |why: String| invalid(format!("local resource {link:?}: {why}"));
    check_link(link).map_err(|e| bad(e.to_string()))?;
    let value = value.ok_or_else(|| bad("it names no resource".into()))?;
    let url = value.resource.as_ref().ok_or_else(|| bad("it has no URL".into()))?;
    if !url.scheme().eq_ignore_ascii_case("file") {
        return Err(bad(format!(
            "scheme {:?} is not supported: this NodeManager localizes file: resources only (set fs.defaultFS=file:/// and a shared spark.yarn.stagingDir)",
            url.scheme()
        )));
    }
    if !matches!(url.host(), "" | "localhost") {
        return Err(bad(format!("file: URL names host {:?}; only local paths are supported", url.host())));
    }
    let path = std::path::PathBuf::from(url.file());
    if !path.is_absolute() {
        return Err(bad(format!("path {:?} is not absolute", url.file())));
    }
    let kind = match value.r#type() {
        LocalResourceTypeProto::File => ResourceKind::File,
        LocalResourceTypeProto::Archive => ResourceKind::Archive,
        LocalResourceTypeProto::Pattern => ResourceKind::Pattern,
    };
    let visibility = match value.visibility() {
        LocalResourceVisibilityProto::Public => Visibility::Public,
        LocalResourceVisibilityProto::Private => Visibility::Private,
        LocalResourceVisibilityProto::Application => Visibility::Application,
    };
    Ok(UrlResource { link: link.to_string(), path, size: value.size(), timestamp: value.timestamp(), kind, visibility })
}

/// Converts a launch context; every refusal names what was wrong.
pub(crate) fn convert(context: &ContainerLaunchContextProto) -> Result<HadoopLaunch, InvalidLaunch> {
    let script = script(context)?;
    let mut resources = Vec::with_capacity(context.local_resources.len());
    for entry in &context.local_resources {
        let converted = resource(entry.key(), entry.value.as_ref())?;
        if resources.iter().any(|r: &UrlResource| r.link == converted.link) {
            return Err(InvalidLaunch::DuplicateResourceName(converted.link));
        }
        resources.push(converted);
    }
    let credentials = match context.tokens.as_deref() {
        None | Some([]) => Credentials::default(),
        Some(bytes) => {
            Credentials::parse_token_file(bytes).map_err(|e| invalid(format!("its tokens do not parse: {e}")))?
        }
    };
    let acls = weft_hadoop_ipc::acls::application_acls(context);
    Ok(HadoopLaunch {
        command: vec!["/bin/bash".into(), "-c".into(), script],
        extras: HadoopExtras { resources, token_file: credentials.to_token_file() },
        acls: weft_daemon::acl::AppAcls::from_texts(acls.view.as_deref(), acls.modify.as_deref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_hadoop_ipc::common::TokenProto;
    use weft_hadoop_ipc::yarn::{StringLocalResourceMapProto, StringStringMapProto, UrlProto};

    fn env(key: &str, value: &str) -> StringStringMapProto {
        StringStringMapProto { key: Some(key.into()), value: Some(value.into()) }
    }

    fn file(link: &str, scheme: &str, path: &str, kind: LocalResourceTypeProto) -> StringLocalResourceMapProto {
        StringLocalResourceMapProto {
            key: Some(link.into()),
            value: Some(LocalResourceProto {
                resource: Some(UrlProto {
                    scheme: Some(scheme.into()),
                    port: Some(-1),
                    file: Some(path.into()),
                    ..Default::default()
                }),
                size: Some(10),
                timestamp: Some(1_700_000_000_123),
                r#type: Some(kind as i32),
                visibility: Some(LocalResourceVisibilityProto::Private as i32),
                ..Default::default()
            }),
        }
    }

    /// The AM context Spark sends, in miniature.
    fn spark_am() -> ContainerLaunchContextProto {
        ContainerLaunchContextProto {
            local_resources: vec![
                file("__spark_conf__", "file", "/s/__spark_conf__.zip", LocalResourceTypeProto::Archive),
                file("__app__.jar", "file", "/s/app.jar", LocalResourceTypeProto::File),
            ],
            tokens: Some(b"HDTS\0\0\0".to_vec()),
            environment: vec![
                env("CLASSPATH", "{{PWD}}<CPS>{{PWD}}/__spark_conf__<CPS>{{PWD}}/__spark_libs__/*"),
                env("SPARK_USER", "alice"),
            ],
            command: vec![
                "{{JAVA_HOME}}/bin/java".into(),
                "-server".into(),
                "-Djava.io.tmpdir={{PWD}}/tmp".into(),
                "org.apache.spark.deploy.yarn.ApplicationMaster".into(),
                "--class".into(),
                "'JavaPi'".into(),
                "1>".into(),
                "<LOG_DIR>/stdout".into(),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn yarns_expansions() {
        assert_eq!(expand("{{PWD}}<CPS>{{PWD}}/x<CPS>{{JAVA_HOME}}/bin"), "$PWD:$PWD/x:$JAVA_HOME/bin");
        assert_eq!(expand("{{not a var}} {{ {{A_1}}"), "{{not a var}} {{ $A_1");
        assert_eq!(double_quoted(r#"a "b" $C `d` \e"#), r#""a \"b\" $C \`d\` \\e""#);
    }

    #[test]
    fn sparks_am_context_becomes_a_bash_launch_with_exports_resources_and_a_token_file() {
        let launch = convert(&spark_am()).unwrap();
        assert_eq!(launch.command[..2], ["/bin/bash", "-c"]);
        assert_eq!(
            launch.command[2],
            "set -o pipefail -e\n\
             export CLASSPATH=\"$PWD:$PWD/__spark_conf__:$PWD/__spark_libs__/*\"\n\
             export SPARK_USER=\"alice\"\n\
             $JAVA_HOME/bin/java -server -Djava.io.tmpdir=$PWD/tmp org.apache.spark.deploy.yarn.ApplicationMaster \
             --class 'JavaPi' 1> <LOG_DIR>/stdout\n"
        );
        let links: Vec<(&str, ResourceKind)> =
            launch.extras.resources.iter().map(|r| (r.link.as_str(), r.kind)).collect();
        assert_eq!(links, [("__spark_conf__", ResourceKind::Archive), ("__app__.jar", ResourceKind::File)]);
        assert_eq!(launch.extras.resources[0].path, std::path::Path::new("/s/__spark_conf__.zip"));
        assert_eq!(launch.extras.resources[0].timestamp, 1_700_000_000_123);
        assert_eq!(launch.extras.resources[0].visibility, Visibility::Private);
        assert_eq!(Credentials::parse_token_file(&launch.extras.token_file).unwrap(), Credentials::default());
    }

    #[test]
    fn the_tokens_given_reach_the_token_file() {
        let token = TokenProto {
            identifier: b"i".to_vec(),
            password: b"p".to_vec(),
            kind: "YARN_AM_RM_TOKEN".into(),
            service: String::new(),
        };
        let credentials = Credentials { tokens: vec![("appattempt_1_0001_000001".into(), token)], secrets: vec![] };
        let context = ContainerLaunchContextProto { tokens: Some(credentials.to_token_file()), ..spark_am() };
        let launch = convert(&context).unwrap();
        assert_eq!(Credentials::parse_token_file(&launch.extras.token_file).unwrap(), credentials);
    }

    #[test]
    fn what_cannot_run_here_is_refused_naming_it() {
        let refuse = |context: ContainerLaunchContextProto| convert(&context).unwrap_err().to_string();
        let mut hdfs = spark_am();
        hdfs.local_resources[1] = file("__app__.jar", "hdfs", "/s/app.jar", LocalResourceTypeProto::File);
        let message = refuse(hdfs);
        assert!(message.contains("\"__app__.jar\"") && message.contains("scheme \"hdfs\""), "{message}");
        let mut escape = spark_am();
        escape.local_resources[1] = file("../x", "file", "/s/app.jar", LocalResourceTypeProto::File);
        assert!(refuse(escape).contains("\"../x\""));
        let mut relative = spark_am();
        relative.local_resources[1] = file("a", "file", "s/app.jar", LocalResourceTypeProto::File);
        assert!(refuse(relative).contains("not absolute"));
        let mut twice = spark_am();
        twice.local_resources[1] = file("__spark_conf__", "file", "/s/b", LocalResourceTypeProto::File);
        assert!(refuse(twice).contains("appears twice"));
        let mut bad_env = spark_am();
        bad_env.environment.push(env("A=B", "x"));
        assert!(refuse(bad_env).contains("\"A=B\""));
        let mut no_command = spark_am();
        no_command.command.clear();
        assert_eq!(convert(&no_command).unwrap_err(), InvalidLaunch::EmptyCommand);
        let mut bad_tokens = spark_am();
        bad_tokens.tokens = Some(b"nope".to_vec());
        assert!(refuse(bad_tokens).contains("tokens do not parse"));
    }
}
