//! Who is calling: the user a request claims (YARN's simple authentication trusts it, as YARN's
//! non-secure mode does) and that user's groups on this host, for the ACL decisions of
//! [`crate::acl`]. Groups come from the OS (NSS), as Hadoop's default group mapping does; a user
//! unknown here has none.

use std::ffi::CString;

use nix::unistd::{getgrouplist, Group, User};

use crate::acl::{Caller, ANONYMOUS_USER};

/// The caller named `user` (empty means anonymous), with its groups when `with_groups`.
pub fn caller(user: &str, with_groups: bool) -> Caller {
    let user = if user.is_empty() { ANONYMOUS_USER } else { user };
    let groups = if with_groups { groups_of(user) } else { Vec::new() };
    Caller::new(user, groups)
}

/// The names of `user`'s groups, its primary group first; none for a user this host does not know.
fn groups_of(user: &str) -> Vec<String> {
    let (Ok(Some(account)), Ok(name)) = (User::from_name(user), CString::new(user)) else {
        return Vec::new();
    };
    let gids = getgrouplist(&name, account.gid).unwrap_or_else(|_| vec![account.gid]);
    gids.into_iter().filter_map(|gid| Group::from_gid(gid).ok().flatten()).map(|g| g.name).collect()
}

/// The name of the user this process runs as (YARN makes it an admin).
pub fn daemon_user() -> String {
    User::from_uid(nix::unistd::geteuid()).ok().flatten().map(|u| u.name).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_in_its_primary_group() {
        let root = caller("root", true);
        assert_eq!(root.user, "root");
        assert!(root.groups.contains(&"root".to_string()), "{root:?}");
    }

    #[test]
    fn an_unknown_user_has_no_groups_and_nobody_is_anonymous() {
        assert!(caller("no-such-user-weft", true).groups.is_empty());
        assert_eq!(caller("", true).user, ANONYMOUS_USER);
        assert!(caller("root", false).groups.is_empty());
    }
}
