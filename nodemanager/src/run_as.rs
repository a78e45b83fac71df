//! Who a container runs as, by YARN's LinuxContainerExecutor rules: with `limit-users` every
//! container is the configured local user (`nobody`), otherwise the submitting user, whose name must
//! match the user pattern; either way the account must exist, must not be banned or root, and must
//! have a uid of at least `min.user.id` unless it is an allowed system user. The rules are pure
//! (`Rules::decide` takes the account lookup as a function); `lookup` reads the system's user
//! database.

use nix::unistd::{Gid, User};
use regex::Regex;
use weft_config::{ExecutorConfig, ExecutorKind};

/// A local account a container's process takes on: its uid, primary gid and every group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) name: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) groups: Vec<u32>,
}

/// How containers are started on this node.
#[derive(Debug, Clone)]
pub(crate) enum Executor {
    /// As the NodeManager's own user (YARN's DefaultContainerExecutor).
    NodeManagerUser,
    /// As other users, by these rules (YARN's LinuxContainerExecutor).
    Linux(Rules),
}

/// The LinuxContainerExecutor's rules.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    limit_users: bool,
    local_user: String,
    user_pattern: Regex,
    banned_users: Vec<String>,
    min_user_id: u32,
    allowed_system_users: Vec<String>,
}

impl Executor {
    /// The executor the configuration asks for; `running_as_root` decides the automatic choice,
    /// and the Linux executor needs it.
    pub(crate) fn from_config(config: &ExecutorConfig, running_as_root: bool) -> Result<Executor, String> {
        let linux = match config.kind {
            ExecutorKind::Automatic => running_as_root,
            ExecutorKind::Linux => true,
            ExecutorKind::Default => false,
        };
        if !linux {
            return Ok(Executor::NodeManagerUser);
        }
        if !running_as_root {
            return Err("yarn.nodemanager.container-executor.class: LinuxContainerExecutor starts containers as \
                        other users, which needs the NodeManager to run as root"
                .into());
        }
        let pattern = &config.user_pattern;
        let user_pattern = Regex::new(pattern).map_err(|e| {
            format!("yarn.nodemanager.linux-container-executor.nonsecure-mode.user-pattern: {pattern:?} is not a regular expression: {e}")
        })?;
        if config.limit_users && config.local_user.is_empty() {
            return Err("yarn.nodemanager.linux-container-executor.nonsecure-mode.local-user is empty".into());
        }
        Ok(Executor::Linux(Rules {
            limit_users: config.limit_users,
            local_user: config.local_user.clone(),
            user_pattern,
            banned_users: config.banned_users.clone(),
            min_user_id: config.min_user_id,
            allowed_system_users: config.allowed_system_users.clone(),
        }))
    }

    /// The account a container of `submitter` runs as: `None` for the NodeManager's own user.
    pub(crate) fn account_for(&self, submitter: &str) -> Result<Option<Account>, String> {
        match self {
            Executor::NodeManagerUser => Ok(None),
            Executor::Linux(rules) => rules.decide(submitter, lookup).map(Some),
        }
    }
}

impl Rules {
    /// The account of `submitter`'s containers, or why there is none.
    pub(crate) fn decide(
        &self,
        submitter: &str,
        lookup: impl Fn(&str) -> Result<Option<Account>, String>,
    ) -> Result<Account, String> {
        let name = if self.limit_users {
            self.local_user.as_str()
        } else {
            if !self.user_pattern.is_match(submitter) {
                return Err(format!("Invalid user name '{submitter}', it must match '{}'", self.user_pattern.as_str()));
            }
            submitter
        };
        let account = lookup(name)?.ok_or_else(|| format!("User {name} not found on this node"))?;
        if account.uid == 0 {
            return Err(format!("Requested user {name} is root: no container runs as root"));
        }
        if self.banned_users.iter().any(|banned| banned == name) {
            return Err(format!("Requested user {name} is banned"));
        }
        if account.uid < self.min_user_id && !self.allowed_system_users.iter().any(|allowed| allowed == name) {
            return Err(format!(
                "Requested user {name} has id {}, which is below the minimum allowed {}",
                account.uid, self.min_user_id
            ));
        }
        Ok(account)
    }
}

/// The account named `name` from the system's user database, with all its groups.
pub(crate) fn lookup(name: &str) -> Result<Option<Account>, String> {
    let user = User::from_name(name).map_err(|e| format!("cannot look up user {name}: {e}"))?;
    let Some(user) = user else { return Ok(None) };
    let c_name = std::ffi::CString::new(name).map_err(|_| format!("user name {name:?} holds a NUL byte"))?;
    let groups = nix::unistd::getgrouplist(&c_name, user.gid)
        .map_err(|e| format!("cannot list the groups of {name}: {e}"))?
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    Ok(Some(Account { name: name.to_owned(), uid: user.uid.as_raw(), gid: user.gid.as_raw(), groups }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(limit_users: bool) -> ExecutorConfig {
        ExecutorConfig {
            kind: ExecutorKind::Linux,
            limit_users,
            local_user: "nobody".into(),
            user_pattern: "^[_.A-Za-z0-9][-@_.A-Za-z0-9]{0,255}?[$]?$".into(),
            banned_users: vec!["root".into(), "yarn".into(), "hdfs".into(), "mapred".into(), "bin".into()],
            min_user_id: 1000,
            allowed_system_users: vec!["daemon2".into()],
        }
    }

    fn rules(limit_users: bool) -> Rules {
        match Executor::from_config(&config(limit_users), true).unwrap() {
            Executor::Linux(rules) => rules,
            Executor::NodeManagerUser => panic!("the Linux executor was asked for"),
        }
    }

    fn accounts(name: &str) -> Result<Option<Account>, String> {
        let uid = match name {
            "nobody" => 65534,
            "alice" => 1001,
            "root" | "toor" => 0,
            "yarn" => 1002,
            "daemon" | "daemon2" => 2,
            _ => return Ok(None),
        };
        Ok(Some(Account { name: name.into(), uid, gid: uid, groups: vec![uid] }))
    }

    #[test]
    fn limit_users_runs_everyone_as_the_local_user() {
        for submitter in ["alice", "root", "someone-unknown", "bad name!"] {
            assert_eq!(rules(true).decide(submitter, accounts).unwrap().name, "nobody", "{submitter}");
        }
    }

    #[test]
    fn without_limit_users_the_submitter_runs_if_allowed() {
        let rules = rules(false);
        assert_eq!(rules.decide("alice", accounts).unwrap().uid, 1001);
        let refused = |user: &str| rules.decide(user, accounts).unwrap_err();
        assert_eq!(refused("root"), "Requested user root is root: no container runs as root");
        assert_eq!(refused("toor"), "Requested user toor is root: no container runs as root");
        assert_eq!(refused("yarn"), "Requested user yarn is banned");
        assert_eq!(refused("daemon"), "Requested user daemon has id 2, which is below the minimum allowed 1000");
        assert_eq!(rules.decide("daemon2", accounts).unwrap().uid, 2, "an allowed system user");
        assert_eq!(refused("bob"), "User bob not found on this node");
        assert!(refused("bad name!").starts_with("Invalid user name 'bad name!', it must match '^[_.A-Za-z0-9]"));
    }

    #[test]
    fn the_choice_of_executor() {
        let mut c = config(true);
        c.kind = ExecutorKind::Automatic;
        assert!(matches!(Executor::from_config(&c, true).unwrap(), Executor::Linux(_)));
        assert!(matches!(Executor::from_config(&c, false).unwrap(), Executor::NodeManagerUser));
        c.kind = ExecutorKind::Default;
        assert!(matches!(Executor::from_config(&c, true).unwrap(), Executor::NodeManagerUser));
        c.kind = ExecutorKind::Linux;
        assert!(Executor::from_config(&c, false).unwrap_err().contains("needs the NodeManager to run as root"));
        c.user_pattern = "([".into();
        assert!(Executor::from_config(&c, true).unwrap_err().contains("is not a regular expression"));
    }

    #[test]
    fn the_system_database_is_read() {
        let root = lookup("root").unwrap().unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        assert_eq!(lookup("no-such-user-weft").unwrap(), None);
    }
}
