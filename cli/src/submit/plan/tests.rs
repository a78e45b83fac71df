//! `weft submit`'s plan: flags to keys, precedence, masters and deploy modes, sizing, `--files`, the
//! capacity check and the errors that stop a submission.

use super::*;

fn flags(binary: &str) -> Flags {
    Flags { binary: binary.into(), ..Flags::default() }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn properties(plan: &SubmitPlan) -> Vec<(&str, &str)> {
    plan.conf.iter().collect()
}

/// The submission is refused with exit status 64, and the message holds every needle.
fn refused(flags: Flags, needles: &[&str]) {
    let err = plan(flags).expect_err("refused");
    assert_eq!(err.exit_code(), 64);
    let text = err.to_string();
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
    assert!(text.ends_with("; nothing was submitted"), "{text}");
}

#[test]
fn defaults_run_locally_in_client_mode() {
    let p = plan(flags("build/app.bin")).unwrap();
    assert_eq!((p.master.clone(), p.deploy_mode), (Master::Local, DeployMode::Client));
    assert_eq!(
        properties(&p),
        [("spark.app.name", "app.bin"), ("spark.master", "local[*]"), ("spark.submit.deployMode", "client")]
    );
    assert_eq!(
        (p.binary, p.binary_name.as_str(), p.name.as_str()),
        (PathBuf::from("build/app.bin"), "app.bin", "app.bin")
    );
    assert_eq!((p.queue.as_str(), p.max_app_attempts), ("default", None));
    assert_eq!((p.am, p.executor, p.executor_instances), (Resource::new(896, 1), Resource::new(1408, 1), 2));
    assert!(p.files.is_empty() && p.warnings.is_empty() && p.args.is_empty());
}

#[test]
fn flags_set_sparks_keys_and_size_the_containers() {
    let p = plan(Flags {
        master: Some("yarn".into()),
        deploy_mode: Some("cluster".into()),
        name: Some("word count".into()),
        queue: Some("root.default".into()),
        num_executors: Some(4),
        executor_memory: Some("4g".into()),
        executor_cores: Some(2),
        driver_memory: Some("2g".into()),
        driver_cores: Some(3),
        args: vec!["in.txt".into(), "--out".into()],
        ..flags("/opt/app")
    })
    .unwrap();
    assert_eq!(
        properties(&p),
        [
            ("spark.app.name", "word count"),
            ("spark.driver.cores", "3"),
            ("spark.driver.memory", "2g"),
            ("spark.executor.cores", "2"),
            ("spark.executor.instances", "4"),
            ("spark.executor.memory", "4g"),
            ("spark.master", "yarn"),
            ("spark.submit.deployMode", "cluster"),
            ("spark.yarn.queue", "root.default"),
        ]
    );
    assert_eq!((p.master.clone(), p.deploy_mode), (Master::Yarn, DeployMode::Cluster));
    assert_eq!(
        (p.name.as_str(), p.queue.as_str(), p.args.clone()),
        ("word count", "root.default", vec!["in.txt".to_owned(), "--out".to_owned()])
    );
    assert_eq!(p.am, Resource::new(2048 + 384, 3), "cluster mode: the driver's memory + overhead and cores");
    assert_eq!((p.executor, p.executor_instances), (Resource::new(4096 + 409, 2), 4));
    let client = plan(Flags { deploy_mode: Some("client".into()), ..flags("/opt/app") }).unwrap();
    assert_eq!(client.am, Resource::new(512 + 384, 1), "client mode: spark.yarn.am.*");
}

#[test]
fn explicit_flags_over_conf_over_the_properties_file() {
    let p = plan(Flags {
        properties: pairs(&[
            ("spark.executor.memory", "1g"),
            ("spark.executor.cores", "3"),
            ("spark.app.name", "from-file"),
            ("spark.yarn.maxAppAttempts", "1"),
            ("spark.executor.memory", "1500m"),
        ]),
        conf: pairs(&[
            ("spark.executor.memory", "2g"),
            ("spark.app.name", "from-conf"),
            ("spark.executor.memoryOverhead", "1g"),
        ]),
        executor_memory: Some("4g".into()),
        master: Some("weft://rm.example:8032".into()),
        ..flags("app")
    })
    .unwrap();
    let conf = &p.conf;
    assert_eq!(conf.get("spark.executor.memory"), Some("4g"), "the flag wins");
    assert_eq!(conf.get("spark.app.name"), Some("from-conf"), "--conf over the file");
    assert_eq!(conf.get("spark.executor.cores"), Some("3"), "the file fills in the rest");
    assert_eq!((p.name.as_str(), p.max_app_attempts), ("from-conf", Some(1)));
    assert_eq!(p.executor, Resource::new(4096 + 1024, 3));
    assert_eq!(p.master, Master::Weft { address: "rm.example:8032".into() });
    let p = plan(Flags {
        conf: pairs(&[("spark.master", "yarn")]),
        properties: pairs(&[("spark.master", "local")]),
        ..flags("app")
    })
    .unwrap();
    assert_eq!(p.master, Master::Yarn);
}

#[test]
fn non_spark_keys_are_ignored_with_a_warning() {
    let p = plan(Flags {
        properties: pairs(&[("hadoop.tmp.dir", "/x")]),
        conf: pairs(&[("executor.memory", "4g"), ("spark.ok", "1")]),
        ..flags("app")
    })
    .unwrap();
    assert_eq!(
        p.warnings,
        ["Ignoring non-Spark config property: hadoop.tmp.dir", "Ignoring non-Spark config property: executor.memory"]
    );
    assert_eq!(p.conf.get("spark.ok"), Some("1"));
    assert_eq!(p.conf.get("executor.memory"), None);
}

#[test]
fn masters() {
    let master = |m: &str| plan(Flags { master: Some(m.into()), ..flags("app") }).map(|p| p.master);
    assert_eq!(master("yarn").unwrap(), Master::Yarn);
    assert_eq!(master("weft://10.0.0.5:8032").unwrap(), Master::Weft { address: "10.0.0.5:8032".into() });
    assert_eq!(master("weft://[::1]:8032/").unwrap(), Master::Weft { address: "[::1]:8032".into() });
    for local in ["local", "local[4]", "local[*]"] {
        assert_eq!(master(local).unwrap(), Master::Local, "{local}");
    }
    for bad in ["spark://h:7077", "weft://h", "weft://:8032", "weft://h:99999", "local[0]", "local[x]", "YARN"] {
        refused(
            Flags { master: Some(bad.into()), ..flags("app") },
            &["--master (spark.master)", &format!("{bad:?}"), "yarn, local"],
        );
    }
    refused(
        Flags { conf: pairs(&[("spark.master", "mesos://x")]), ..flags("app") },
        &["spark.master: invalid value \"mesos://x\""],
    );
}

#[test]
fn deploy_modes() {
    refused(
        Flags { master: Some("yarn".into()), deploy_mode: Some("server".into()), ..flags("app") },
        &["--deploy-mode (spark.submit.deployMode): invalid value \"server\": expected client or cluster"],
    );
    refused(
        Flags { master: Some("local[2]".into()), deploy_mode: Some("cluster".into()), ..flags("app") },
        &["--deploy-mode cluster is not compatible with master \"local[2]\""],
    );
    refused(Flags { deploy_mode: Some("cluster".into()), ..flags("app") }, &["master \"local[*]\""]);
}

#[test]
fn bad_values_are_named_all_at_once() {
    refused(
        Flags {
            master: Some("yarn".into()),
            conf: pairs(&[
                ("spark.executor.memory", "1.5g"),
                ("spark.task.maxFailures", "0"),
                ("spark.network.timeout", "soon"),
            ]),
            driver_memory: Some("2q".into()),
            ..flags("app")
        },
        &[
            "spark.executor.memory: invalid size \"1.5g\"",
            "fractional",
            "--driver-memory (spark.driver.memory): invalid size \"2q\"",
            "spark.task.maxFailures: invalid value \"0\"",
            "spark.network.timeout: invalid value \"soon\"",
        ],
    );
    let err =
        plan(Flags { conf: pairs(&[("spark.executor.memory", "1.5g")]), ..flags("app") }).unwrap_err().to_string();
    assert_eq!(err.matches("1.5g").count(), 1, "said once: {err}");
    refused(
        Flags { master: Some("bogus".into()), deploy_mode: Some("bogus".into()), ..flags("app") },
        &["spark.master", "spark.submit.deployMode"],
    );
    refused(flags("dir/"), &["the application binary \"dir/\" does not name a file"]);
    refused(flags(".."), &["does not name a file"]);
}

#[test]
fn files_are_staged_under_their_names_on_a_cluster() {
    let p = plan(Flags {
        master: Some("yarn".into()),
        files: Some("data/a.txt, /etc/b.conf#c.conf,file:///srv/d.csv,file:e.txt".into()),
        ..flags("app")
    })
    .unwrap();
    let files: Vec<(&str, &str)> = p.files.iter().map(|f| (f.path.to_str().unwrap(), f.name.as_str())).collect();
    assert_eq!(
        files,
        [("data/a.txt", "a.txt"), ("/etc/b.conf", "c.conf"), ("/srv/d.csv", "d.csv"), ("e.txt", "e.txt")]
    );
    assert_eq!(
        p.conf.get("spark.yarn.dist.files"),
        Some("data/a.txt, /etc/b.conf#c.conf,file:///srv/d.csv,file:e.txt")
    );
    let from_conf =
        plan(Flags { master: Some("yarn".into()), conf: pairs(&[("spark.yarn.dist.files", "x.txt")]), ..flags("app") })
            .unwrap();
    assert_eq!(from_conf.files, [DistFile { path: "x.txt".into(), name: "x.txt".into() }]);
    let local = plan(Flags { files: Some("a.txt".into()), ..flags("app") }).unwrap();
    assert_eq!(
        (local.files.len(), local.conf.get("spark.files"), local.conf.get("spark.yarn.dist.files")),
        (0, Some("a.txt"), None)
    );
}

#[test]
fn bad_files_are_refused() {
    let yarn = |files: &str| Flags { master: Some("yarn".into()), files: Some(files.into()), ..flags("/x/app") };
    refused(yarn("a/x.txt,b/x.txt"), &["--files: a/x.txt and \"b/x.txt\" would both be localized as \"x.txt\""]);
    refused(yarn("hdfs://nn/x.txt"), &["--files: \"hdfs://nn/x.txt\" is not a local file"]);
    refused(yarn("tools/app"), &["the application binary's name"]);
    refused(yarn("x.txt#"), &["does not name a file"]);
    refused(yarn("x.txt#a/b"), &["does not name a file"]);
}

#[test]
fn asks_are_held_against_the_clusters_maximum() {
    let yarn = |mode: &str, conf: &[(&str, &str)]| {
        plan(Flags { master: Some("yarn".into()), deploy_mode: Some(mode.into()), conf: pairs(conf), ..flags("app") })
            .unwrap()
    };
    let check = |p: &SubmitPlan, maximum| check_capacity(p, maximum).map_err(|e| (e.to_string(), e.exit_code()));
    assert_eq!(check(&yarn("cluster", &[]), Resource::new(8192, 32)), Ok(()));
    assert_eq!(check(&yarn("cluster", &[]), Resource::new(1408, 1)), Ok(()));
    let big = yarn("cluster", &[("spark.driver.memory", "8g"), ("spark.executor.cores", "64")]);
    assert_eq!(
        check(&big, Resource::new(8192, 32)),
        Err((
            "the driver's container (spark.driver.memory + overhead) 9011 MB is above the cluster's maximum allocation \
             of 8192 MB (yarn.scheduler.maximum-allocation-mb); spark.executor.cores 64 vcores is above the cluster's \
             maximum allocation of 32 vcores (yarn.scheduler.maximum-allocation-vcores); nothing was submitted"
                .to_owned(),
            64
        ))
    );
    let client = yarn("client", &[("spark.driver.memory", "8g"), ("spark.executor.memory", "4g")]);
    assert_eq!(
        check(&client, Resource::new(4096, 32)),
        Err((
            "an executor's container (spark.executor.memory + overhead) 4505 MB is above the cluster's maximum \
             allocation of 4096 MB (yarn.scheduler.maximum-allocation-mb); nothing was submitted"
                .to_owned(),
            64
        )),
        "client mode: the driver runs here, so its memory is not asked for"
    );
    let none = yarn("client", &[("spark.executor.instances", "0"), ("spark.executor.memory", "64g")]);
    assert_eq!(check(&none, Resource::new(4096, 32)), Ok(()), "no executors, no executor ask");
}

#[test]
fn verbose_prints_the_arguments_and_every_property() {
    let p =
        plan(Flags { master: Some("yarn".into()), args: vec!["a".into(), "b".into()], ..flags("/opt/app") }).unwrap();
    let text = verbose_report(&p, Some("my.conf"));
    for line in [
        "Using properties file: my.conf\n",
        "  master                  yarn\n",
        "  deployMode              client\n",
        "  primaryResource         /opt/app\n",
        "  childArgs               [a b]\n",
        "  applicationMaster       896 MB, 1 vcores\n",
        "  executors               2 x 1408 MB, 1 vcores\n",
        " --conf and those from the properties file my.conf:\n  (spark.app.name,app)\n  (spark.master,yarn)\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    let local = verbose_report(&plan(flags("app")).unwrap(), None);
    assert!(local.contains("the properties file null:") && !local.contains("executors"), "{local}");
}
