//! YARN's `application_ACLs` of a launch context as plain text: the VIEW_APP and MODIFY_APP ACL
//! strings it carries (Spark fills them from `spark.acls.enable`, `spark.ui.view.acls` and
//! `spark.modify.acls`). An entry of an access type this crate does not know is ignored; the last
//! entry of a type wins.

use crate::yarn::{ApplicationAccessTypeProto, ContainerLaunchContextProto};

/// The ACL strings of a launch context, `None` where it gives none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationAcls {
    pub view: Option<String>,
    pub modify: Option<String>,
}

pub fn application_acls(context: &ContainerLaunchContextProto) -> ApplicationAcls {
    let mut acls = ApplicationAcls::default();
    for entry in &context.application_acls {
        let acl = Some(entry.acl().to_owned());
        match entry.access_type.and_then(|t| ApplicationAccessTypeProto::try_from(t).ok()) {
            Some(ApplicationAccessTypeProto::AppaccessViewApp) => acls.view = acl,
            Some(ApplicationAccessTypeProto::AppaccessModifyApp) => acls.modify = acl,
            None => {}
        }
    }
    acls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yarn::ApplicationAclMapProto;

    #[test]
    fn view_and_modify_are_read_and_unknown_types_ignored() {
        let entry = |t: i32, acl: &str| ApplicationAclMapProto { access_type: Some(t), acl: Some(acl.into()) };
        let context = ContainerLaunchContextProto {
            application_acls: vec![entry(1, "alice ops"), entry(2, "bob"), entry(99, "mallory")],
            ..Default::default()
        };
        assert_eq!(
            application_acls(&context),
            ApplicationAcls { view: Some("alice ops".into()), modify: Some("bob".into()) }
        );
        assert_eq!(application_acls(&ContainerLaunchContextProto::default()), ApplicationAcls::default());
    }
}
