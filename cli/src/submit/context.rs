//! What `weft submit` hands over: the driver's environment in each deploy mode (the names are
//! `spark::launch_env`'s) and the submission context the ResourceManager gets. Pure.

use weft_proto::{pb, ApplicationAttemptId, ApplicationId};

use weft_executor::auth::Secret;

use super::plan::SubmitPlan;
use weft_spark::conf::{keys, SparkConf, StagedFile};
use weft_spark::launch_env as env;

/// Spark applications are submitted with Spark's application type.
pub(crate) const APPLICATION_TYPE: &str = "SPARK";

/// The driver's configuration once the files are staged: the plan's, plus where executors find them
/// (only what was staged here: a `spark.weft.stagedFiles` from the command line is dropped).
pub(crate) fn driver_conf(plan: &SubmitPlan, files: &[StagedFile]) -> SparkConf {
    let mut conf = plan.conf.clone();
    conf.remove(keys::STAGED_FILES);
    if !files.is_empty() {
        conf.set_staged_files(files);
    }
    conf
}

/// A local master: the role, the configuration and, with `spark.authenticate`, the application's
/// secret (only ever in the driver's environment: never on a command line, in the configuration or
/// in a file).
pub(crate) fn local_env(conf: &SparkConf, secret: Option<&Secret>) -> Vec<(String, String)> {
    let mut vars = vec![(env::ROLE.to_owned(), env::ROLE_DRIVER.to_owned()), (env::CONF.to_owned(), conf.to_json())];
    if let Some(secret) = secret {
        vars.push((env::SECRET.to_owned(), secret.to_hex()));
    }
    vars
}

/// Cluster mode: what the AM container's driver gets (the ResourceManager adds its own variables).
pub(crate) fn cluster_env(conf: &SparkConf, binary: &StagedFile, secret: Option<&Secret>) -> Vec<(String, String)> {
    let mut vars = local_env(conf, secret);
    vars.push((env::APP_BINARY.to_owned(), binary.to_json()));
    vars.extend(env::ALLOCATOR.map(|(name, value)| (name.to_owned(), value.to_owned())));
    vars
}

/// Where a client-mode driver finds its application and the ResourceManager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientDriver {
    pub(crate) app: ApplicationId,
    pub(crate) attempt: ApplicationAttemptId,
    pub(crate) rm_address: String,
    pub(crate) scheduler_address: String,
    /// The attempt's AMRM token, from the application report (YARN hands it to an unmanaged AM so).
    pub(crate) amrm_token: Vec<u8>,
}

/// Client mode: the child driver registers as the unmanaged AM of `driver.attempt`.
pub(crate) fn client_env(
    conf: &SparkConf,
    binary: &StagedFile,
    driver: &ClientDriver,
    secret: Option<&Secret>,
) -> Vec<(String, String)> {
    let mut vars = cluster_env(conf, binary, secret);
    vars.extend([
        (env::APPLICATION_ID.to_owned(), driver.app.to_string()),
        (env::AM_ATTEMPT_ID.to_owned(), driver.attempt.to_string()),
        (env::RM_SCHEDULER_ADDRESS.to_owned(), driver.scheduler_address.clone()),
        (env::RM_ADDRESS.to_owned(), driver.rm_address.clone()),
        (weft_proto::AMRM_TOKEN_ENV.to_owned(), hex::encode(&driver.amrm_token)),
    ]);
    vars
}

/// The AM container's command in cluster mode: the staged binary and the application's arguments.
pub(crate) fn am_command(plan: &SubmitPlan) -> Vec<String> {
    let mut command = vec![format!("./{}", plan.binary_name)];
    command.extend(plan.args.iter().cloned());
    command
}

/// Cluster mode: the AM container runs the binary as the driver, with the files beside it.
pub(crate) fn cluster_submission(
    app: ApplicationId,
    plan: &SubmitPlan,
    conf: &SparkConf,
    binary: &StagedFile,
    files: &[StagedFile],
    user: String,
    secret: Option<&Secret>,
) -> pb::ApplicationSubmissionContext {
    let mut local_resources = vec![pb::LocalResource::from(binary.clone())];
    local_resources.extend(files.iter().cloned().map(pb::LocalResource::from));
    let am_container = pb::ContainerLaunchContext {
        command: am_command(plan),
        environment: cluster_env(conf, binary, secret)
            .into_iter()
            .map(|(name, value)| pb::KeyValue { key: name, value })
            .collect(),
        local_resources,
        ..Default::default()
    };
    pb::ApplicationSubmissionContext { am_container: Some(am_container), unmanaged_am: false, ..base(app, plan, user) }
}

/// Client mode: an unmanaged AM; the driver runs in `weft submit`'s child and registers itself.
/// No AM container is launched, but the launch context names the staged files the executors will
/// use, so the ResourceManager keeps them while the application runs.
pub(crate) fn client_submission(
    app: ApplicationId,
    plan: &SubmitPlan,
    binary: &StagedFile,
    files: &[StagedFile],
    user: String,
) -> pb::ApplicationSubmissionContext {
    let mut local_resources = vec![pb::LocalResource::from(binary.clone())];
    local_resources.extend(files.iter().cloned().map(pb::LocalResource::from));
    let am_container = pb::ContainerLaunchContext { local_resources, ..Default::default() };
    pb::ApplicationSubmissionContext { am_container: Some(am_container), unmanaged_am: true, ..base(app, plan, user) }
}

fn base(app: ApplicationId, plan: &SubmitPlan, user: String) -> pb::ApplicationSubmissionContext {
    let (view_acls, modify_acls) = plan.conf.yarn_app_acls(&user);
    pb::ApplicationSubmissionContext {
        application_id: app.to_string(),
        name: plan.name.clone(),
        queue: plan.queue.clone(),
        application_type: APPLICATION_TYPE.to_owned(),
        user,
        am_resource: Some(plan.am.into()),
        am_container: None,
        max_app_attempts: plan.max_app_attempts.map_or(0, |n| i32::try_from(n).unwrap_or(i32::MAX)),
        unmanaged_am: false,
        tags: Vec::new(),
        view_acls,
        modify_acls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::submit::plan::{plan, Flags};

    fn yarn_plan(mode: &str) -> SubmitPlan {
        plan(Flags {
            master: Some("yarn".into()),
            deploy_mode: Some(mode.into()),
            driver_memory: Some("2g".into()),
            driver_cores: Some(2),
            conf: vec![
                ("spark.yarn.maxAppAttempts".into(), "1".into()),
                ("spark.weft.stagedFiles".into(), "[]".into()),
            ],
            files: Some("data/in.txt".into()),
            args: vec!["in.txt".into(), "-n".into(), "3".into()],
            binary: "target/release/wordcount".into(),
            ..Flags::default()
        })
        .unwrap()
    }

    fn staged(name: &str, executable: bool) -> StagedFile {
        StagedFile { name: name.into(), sha256: "ab".repeat(32), size: 10, executable }
    }

    fn vars(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn application_acls_are_sparks_owner_admins_and_listed_users_then_groups() {
        let mut plan = yarn_plan("cluster");
        let context = client_submission(ApplicationId::new(1, 7), &plan, &staged("w", true), &[], "alice".into());
        assert_eq!((context.view_acls.as_str(), context.modify_acls.as_str()), ("alice ", "alice "));
        plan.conf.set("spark.admin.acls", "root").set("spark.ui.view.acls", " bob, carol ");
        plan.conf.set("spark.modify.acls.groups", "ops").set("spark.admin.acls.groups", "admins");
        let context = client_submission(ApplicationId::new(1, 8), &plan, &staged("w", true), &[], "alice".into());
        assert_eq!(context.view_acls, "root,alice,bob,carol admins");
        assert_eq!(context.modify_acls, "root,alice admins,ops");
        plan.conf.set("spark.ui.view.acls", "*");
        let context = client_submission(ApplicationId::new(1, 9), &plan, &staged("w", true), &[], "alice".into());
        assert_eq!(context.view_acls, "* admins");
    }

    #[test]
    fn the_cluster_submission_runs_the_staged_binary_as_the_driver() {
        let plan = yarn_plan("cluster");
        let (binary, file) = (staged("wordcount", true), staged("in.txt", false));
        let conf = driver_conf(&plan, std::slice::from_ref(&file));
        let secret = Secret::generate().unwrap();
        let context = cluster_submission(
            ApplicationId::new(1, 7),
            &plan,
            &conf,
            &binary,
            std::slice::from_ref(&file),
            "alice".into(),
            Some(&secret),
        );
        assert_eq!(context.application_id, "application_1_0007");
        assert_eq!((context.application_type.as_str(), context.name.as_str()), ("SPARK", "wordcount"));
        assert_eq!((context.queue.as_str(), context.user.as_str()), ("default", "alice"));
        assert_eq!(context.am_resource, Some(pb::Resource { memory_mb: 2048 + 384, vcores: 2 }));
        assert_eq!((context.max_app_attempts, context.unmanaged_am), (1, false));
        let am = context.am_container.unwrap();
        assert_eq!(am.command, ["./wordcount", "in.txt", "-n", "3"]);
        assert_eq!(am.local_resources, [binary.clone().into(), file.clone().into()]);
        let environment: Vec<(&str, &str)> =
            am.environment.iter().map(|kv| (kv.key.as_str(), kv.value.as_str())).collect();
        assert_eq!(environment[0], ("WEFT_SPARK_ROLE", "driver"));
        assert_eq!(environment[2], ("WEFT_SPARK_SECRET", secret.to_hex().as_str()));
        assert_eq!(environment[3], ("WEFT_APP_BINARY", binary.to_json().as_str()));
        // The secret is in the AM's environment only: not on its command line, not in the configuration.
        assert!(!am.command.iter().any(|word| word.contains(&secret.to_hex())));
        assert!(!environment[1].1.contains(&secret.to_hex()));
        let sent = SparkConf::from_json(environment[1].1).unwrap();
        assert_eq!(sent.get("spark.submit.deployMode"), Some("cluster"));
        assert_eq!(sent.get("spark.yarn.dist.files"), Some("data/in.txt"));
        assert_eq!(sent.staged_files(), Ok(vec![file]));
        assert_eq!((sent.get("spark.master"), sent.get("spark.app.name")), (Some("yarn"), Some("wordcount")));
    }

    #[test]
    fn the_client_submission_is_an_unmanaged_am() {
        let plan = yarn_plan("client");
        let binary = staged("app", true);
        let context = client_submission(ApplicationId::new(1, 8), &plan, &binary, &[], "bob".into());
        assert!(context.unmanaged_am);
        assert_eq!(context.am_resource, Some(pb::Resource { memory_mb: 512 + 384, vcores: 1 }));
        let am = context.am_container.unwrap();
        assert!(am.command.is_empty(), "nothing is launched for an unmanaged AM");
        assert_eq!(am.local_resources, [pb::LocalResource::from(binary)], "the files its executors use are named");
        assert_eq!(context.application_type, "SPARK");
    }

    #[test]
    fn the_client_driver_learns_its_attempt_and_the_resourcemanager() {
        let plan = yarn_plan("client");
        let app = ApplicationId::new(1795428044281, 3);
        let driver = ClientDriver {
            app,
            attempt: app.attempt(1),
            rm_address: "rm:8032".into(),
            scheduler_address: "rm:8030".into(),
            amrm_token: vec![0xab, 0x01],
        };
        let binary = staged("wordcount", true);
        let conf = driver_conf(&plan, &[]);
        let secret = Secret::from_hex(&"5a".repeat(32)).unwrap();
        let pairs = client_env(&conf, &binary, &driver, Some(&secret));
        assert_eq!(
            vars(&pairs),
            [
                ("WEFT_SPARK_ROLE", "driver"),
                ("WEFT_SPARK_CONF", conf.to_json().as_str()),
                ("WEFT_SPARK_SECRET", "5a".repeat(32).as_str()),
                ("WEFT_APP_BINARY", binary.to_json().as_str()),
                ("MIMALLOC_ARENA_RESERVE", "64MiB"),
                ("MIMALLOC_PURGE_DELAY", "1000"),
                ("WEFT_APPLICATION_ID", "application_1795428044281_0003"),
                ("WEFT_AM_ATTEMPT_ID", "appattempt_1795428044281_0003_000001"),
                ("WEFT_RM_SCHEDULER_ADDRESS", "rm:8030"),
                ("WEFT_RM_ADDRESS", "rm:8032"),
                ("WEFT_AMRM_TOKEN", "ab01"),
            ]
        );
        assert_eq!(conf.get("spark.submit.deployMode"), Some("client"));
        assert_eq!(conf.get("spark.weft.stagedFiles"), None, "nothing staged, nothing recorded");
    }

    #[test]
    fn spark_authenticate_is_on_unless_set_false() {
        assert!(yarn_plan("cluster").authenticate);
        let with = |value: &str| {
            plan(Flags {
                master: Some("yarn".into()),
                conf: vec![("spark.authenticate".into(), value.into())],
                binary: "app".into(),
                ..Flags::default()
            })
        };
        assert!(!with("false").unwrap().authenticate);
        assert!(with("true").unwrap().authenticate);
        let refused = with("maybe").unwrap_err().to_string();
        assert!(refused.contains("spark.authenticate"), "{refused}");
    }

    #[test]
    fn without_spark_authenticate_no_driver_environment_holds_a_secret() {
        let plan = yarn_plan("cluster");
        let binary = staged("app", true);
        let conf = driver_conf(&plan, &[]);
        for pairs in [local_env(&conf, None), cluster_env(&conf, &binary, None)] {
            assert!(!pairs.iter().any(|(name, _)| name == "WEFT_SPARK_SECRET"), "{pairs:?}");
        }
    }
}
