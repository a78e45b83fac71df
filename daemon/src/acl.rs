//! Who may see and change an application: Hadoop's `AccessControlList` and YARN's
//! `ApplicationACLsManager` decision, as plain data. No I/O: the caller's groups are looked up by the
//! adapter and handed in with its name ([`Caller`]).
//!
//! An ACL string is Hadoop's: `"user1,user2 group1,group2"` (users, one space, groups); `*` (as
//! either part) allows everyone; a single space or an empty string allows nobody.

use std::collections::BTreeSet;
use std::fmt;

/// The user Hadoop's web servers name an anonymous caller (`hadoop.http.staticuser.user`).
pub const ANONYMOUS_USER: &str = "dr.who";

/// What a caller wants to do with an application (YARN's `ApplicationAccessType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessType {
    /// Reports with diagnostics, tracking URL, AM address and logs; attempts; containers.
    ViewApp,
    /// Kill.
    ModifyApp,
}

impl AccessType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessType::ViewApp => "VIEW_APP",
            AccessType::ModifyApp => "MODIFY_APP",
        }
    }
}

impl fmt::Display for AccessType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hadoop's `AccessControlList`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessControlList {
    all: bool,
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
}

impl AccessControlList {
    /// Parses Hadoop's ACL format. Every string is a valid ACL, as in Hadoop: names are split on
    /// commas and trimmed, empty names are dropped, and anything after the first space is groups.
    pub fn parse(text: &str) -> AccessControlList {
        let (users, groups) = text.split_once(' ').unwrap_or((text, ""));
        if users.trim() == "*" || groups.trim() == "*" {
            return AccessControlList { all: true, ..Default::default() };
        }
        AccessControlList { all: false, users: names(users), groups: names(groups) }
    }

    /// An ACL that allows nobody (Hadoop's `" "`, YARN's default application ACL).
    pub fn nobody() -> AccessControlList {
        AccessControlList::default()
    }

    /// Adds one user (YARN adds the ResourceManager's own user to the admin ACL).
    pub fn with_user(mut self, user: &str) -> AccessControlList {
        if !user.is_empty() {
            self.users.insert(user.to_owned());
        }
        self
    }

    pub fn allows(&self, caller: &Caller) -> bool {
        self.all || self.users.contains(&caller.user) || caller.groups.iter().any(|g| self.groups.contains(g))
    }
}

impl fmt::Display for AccessControlList {
    /// Hadoop's text form: `*`, or users and groups separated by one space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.all {
            return f.write_str("*");
        }
        let join = |set: &BTreeSet<String>| set.iter().map(String::as_str).collect::<Vec<_>>().join(",");
        write!(f, "{} {}", join(&self.users), join(&self.groups))
    }
}

fn names(text: &str) -> BTreeSet<String> {
    text.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect()
}

/// Someone calling a daemon: the user its request claims (YARN's simple authentication) and that
/// user's groups on the daemon's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub groups: Vec<String>,
}

impl Caller {
    pub fn new(user: impl Into<String>, groups: Vec<String>) -> Caller {
        Caller { user: user.into(), groups }
    }
}

/// An application's own ACLs, from its submission (YARN's `application_ACLs`). `None` is "not
/// given", which allows nobody beyond the owner and the admins, as YARN's default (`" "`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppAcls {
    pub view: Option<AccessControlList>,
    pub modify: Option<AccessControlList>,
}

impl AppAcls {
    /// From the ACL strings a submission or launch context gives; `None` is "not given".
    pub fn from_texts(view: Option<&str>, modify: Option<&str>) -> AppAcls {
        AppAcls { view: view.map(AccessControlList::parse), modify: modify.map(AccessControlList::parse) }
    }

    fn get(&self, access: AccessType) -> Option<&AccessControlList> {
        match access {
            AccessType::ViewApp => self.view.as_ref(),
            AccessType::ModifyApp => self.modify.as_ref(),
        }
    }
}

/// The cluster's policy: `yarn.acl.enable` and `yarn.admin.acl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclPolicy {
    enabled: bool,
    admin: AccessControlList,
}

impl AclPolicy {
    /// ACLs off: everyone may do everything (YARN's default).
    pub fn disabled() -> AclPolicy {
        AclPolicy { enabled: false, admin: AccessControlList::parse("*") }
    }

    /// `admin_acl` is `yarn.admin.acl`; `daemon_user`, the ResourceManager's own user, is always an
    /// admin, as in YARN's `AdminACLsManager`.
    pub fn new(enabled: bool, admin_acl: &str, daemon_user: &str) -> AclPolicy {
        AclPolicy { enabled, admin: AccessControlList::parse(admin_acl).with_user(daemon_user) }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// YARN's `ApplicationACLsManager.checkAccess`: with ACLs on, the owner, an admin, or someone
    /// the application's ACL for `access` names.
    pub fn allows(&self, caller: &Caller, access: AccessType, owner: &str, acls: &AppAcls) -> bool {
        !self.enabled
            || caller.user == owner
            || self.admin.allows(caller)
            || acls.get(access).is_some_and(|acl| acl.allows(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: &str, groups: &[&str]) -> Caller {
        Caller::new(user, groups.iter().map(|g| g.to_string()).collect())
    }

    fn allows(acl: &str, user: &str, groups: &[&str]) -> bool {
        AccessControlList::parse(acl).allows(&caller(user, groups))
    }

    #[test]
    fn users_then_groups_split_at_the_first_space() {
        let acl = AccessControlList::parse("alice,bob  analysts, ops ");
        assert_eq!(acl.to_string(), "alice,bob analysts,ops");
        // As in Hadoop, the first space ends the users: a leading one leaves groups only.
        assert_eq!(AccessControlList::parse(" alice").to_string(), " alice");
        assert!(allows("alice,bob analysts", "bob", &[]));
        assert!(allows("alice,bob analysts", "carol", &["users", "analysts"]));
        assert!(!allows("alice,bob analysts", "carol", &["users"]));
        assert!(!allows("alice,bob analysts", "analysts", &[]), "a group's name is not a user");
    }

    #[test]
    fn a_star_in_either_part_allows_everyone() {
        for acl in ["*", " *", "*  ", "alice *", "  * "] {
            assert!(allows(acl, "mallory", &[]), "{acl:?}");
            assert_eq!(AccessControlList::parse(acl).to_string(), "*");
        }
        assert!(!allows("alice*", "mallory", &[]), "a star inside a name is a name");
    }

    #[test]
    fn a_space_or_nothing_allows_nobody() {
        for acl in [" ", "", ",", " ,"] {
            assert!(!allows(acl, "alice", &["alice"]), "{acl:?}");
        }
        assert_eq!(AccessControlList::nobody(), AccessControlList::parse(" "));
    }

    #[test]
    fn groups_only() {
        assert!(allows(" ops", "anyone", &["ops"]));
        assert!(!allows(" ops", "ops", &[]));
    }

    fn policy(admin: &str) -> AclPolicy {
        AclPolicy::new(true, admin, "yarn")
    }

    fn check(policy: &AclPolicy, who: &Caller, access: AccessType, acls: &AppAcls) -> bool {
        policy.allows(who, access, "alice", acls)
    }

    #[test]
    fn with_acls_off_everyone_may_do_everything() {
        let off = AclPolicy::disabled();
        assert!(!off.is_enabled());
        assert!(check(&off, &caller("mallory", &[]), AccessType::ModifyApp, &AppAcls::default()));
        let off = AclPolicy::new(false, " ", "yarn");
        assert!(check(&off, &caller("mallory", &[]), AccessType::ModifyApp, &AppAcls::default()));
    }

    #[test]
    fn the_owner_may_always() {
        let acls = AppAcls { view: Some(AccessControlList::nobody()), modify: Some(AccessControlList::nobody()) };
        for access in [AccessType::ViewApp, AccessType::ModifyApp] {
            assert!(check(&policy(" "), &caller("alice", &[]), access, &acls));
            assert!(!check(&policy(" "), &caller("mallory", &[]), access, &acls));
        }
    }

    #[test]
    fn admins_by_name_group_or_being_the_daemons_user() {
        let none = AppAcls::default();
        let admins = policy("root admins");
        assert!(check(&admins, &caller("root", &[]), AccessType::ModifyApp, &none));
        assert!(check(&admins, &caller("bob", &["admins"]), AccessType::ModifyApp, &none));
        assert!(check(&admins, &caller("yarn", &[]), AccessType::ModifyApp, &none));
        assert!(!check(&admins, &caller("bob", &["users"]), AccessType::ModifyApp, &none));
        assert!(check(&policy("*"), &caller("bob", &[]), AccessType::ModifyApp, &none), "YARN's default admin ACL");
    }

    #[test]
    fn the_apps_acl_for_that_access_only() {
        let acls =
            AppAcls { view: Some(AccessControlList::parse("bob")), modify: Some(AccessControlList::parse(" ops")) };
        let admins = policy(" ");
        assert!(check(&admins, &caller("bob", &[]), AccessType::ViewApp, &acls));
        assert!(!check(&admins, &caller("bob", &[]), AccessType::ModifyApp, &acls));
        assert!(check(&admins, &caller("carol", &["ops"]), AccessType::ModifyApp, &acls));
        assert!(!check(&admins, &caller("carol", &["ops"]), AccessType::ViewApp, &acls));
        assert!(!check(&admins, &caller(ANONYMOUS_USER, &[]), AccessType::ViewApp, &AppAcls::default()));
    }

    #[test]
    fn access_types_have_yarns_names() {
        assert_eq!(AccessType::ViewApp.to_string(), "VIEW_APP");
        assert_eq!(AccessType::ModifyApp.to_string(), "MODIFY_APP");
    }
}
