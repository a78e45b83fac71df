//! What a container runs: the accepted start request as plain data, checked once when it arrives.

use weft_proto::{ContainerId, Resource};

/// A file to fetch from the staging store and link into the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalResource {
    /// The link's name in the working directory: a plain file name.
    pub(crate) name: String,
    /// Lower-case hex sha256 of the content.
    pub(crate) sha256: String,
    pub(crate) size: u64,
    pub(crate) executable: bool,
}

/// Everything needed to run one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LaunchSpec {
    pub(crate) id: ContainerId,
    /// The submitting user; processes run as the NodeManager's own OS user.
    pub(crate) user: String,
    /// argv; `<LOG_DIR>` in any argument becomes the container's log directory.
    pub(crate) command: Vec<String>,
    /// The launch context's environment, applied over the NodeManager's.
    pub(crate) environment: Vec<(String, String)>,
    pub(crate) local_resources: Vec<LocalResource>,
    pub(crate) resource: Resource,
    /// What a Hadoop launch context adds: `file:` resources and the container's token file.
    pub(crate) hadoop: Option<super::clc::HadoopExtras>,
    /// The container token of the start request: the localizer shows it to the staging store, which
    /// serves only files of the container's application.
    pub(crate) container_token: ContainerToken,
    /// The application's ACLs, as its launch context gave them: who besides its owner and the
    /// admins may read the container's logs when `yarn.acl.enable` is on.
    pub(crate) acls: weft_daemon::acl::AppAcls,
}

/// An encoded container token, as the start request carried it. `Debug` shows only its length.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct ContainerToken(pub(crate) Vec<u8>);

impl std::fmt::Debug for ContainerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContainerToken({} bytes)", self.0.len())
    }
}

/// Why a start request cannot be accepted as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InvalidLaunch {
    #[error("{0}")]
    BadId(#[from] weft_proto::IdError),
    #[error("the request has no {0}")]
    Missing(&'static str),
    #[error("the command is empty")]
    EmptyCommand,
    #[error("invalid Hadoop container launch context: {0}")]
    HadoopContext(String),
    #[error("the resource {0} is not positive")]
    BadResource(String),
    #[error("the user name {0:?} is not a plain name")]
    BadUser(String),
    #[error("local resource name {0:?} is not a plain file name")]
    BadResourceName(String),
    #[error("local resource {name:?}: sha256 {sha256:?} is not 64 hex digits")]
    BadSha256 { name: String, sha256: String },
    #[error("local resource name {0:?} appears twice")]
    DuplicateResourceName(String),
}

/// True for a single path component that is not `.` or `..` and holds no `/` or NUL.
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Checks a local resource's name and hash, returning the hash in lower case.
pub(crate) fn check_local_resource(name: &str, sha256: &str) -> Result<String, InvalidLaunch> {
    if !is_plain_name(name) {
        return Err(InvalidLaunch::BadResourceName(name.to_owned()));
    }
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(InvalidLaunch::BadSha256 { name: name.to_owned(), sha256: sha256.to_owned() });
    }
    Ok(sha256.to_ascii_lowercase())
}

impl LaunchSpec {
    /// Checks what the wire types cannot: command, resource, user and resource names.
    pub(crate) fn check(&self) -> Result<(), InvalidLaunch> {
        if self.command.is_empty() || self.command[0].is_empty() {
            return Err(InvalidLaunch::EmptyCommand);
        }
        if self.resource.memory_mb <= 0 || self.resource.vcores <= 0 {
            return Err(InvalidLaunch::BadResource(self.resource.yarn_notation()));
        }
        if !is_plain_name(&self.user) {
            return Err(InvalidLaunch::BadUser(self.user.clone()));
        }
        let mut names = std::collections::BTreeSet::new();
        for resource in &self.local_resources {
            if !names.insert(resource.name.as_str()) {
                return Err(InvalidLaunch::DuplicateResourceName(resource.name.clone()));
            }
        }
        Ok(())
    }
}
