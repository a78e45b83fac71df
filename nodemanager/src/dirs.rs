//! Where things live on disk, as YARN lays them out: working directories under the first local
//! dir, the localized-file cache beside them, and logs under the first log dir. Paths only, no I/O.

use std::path::PathBuf;

use weft_proto::{ApplicationId, ContainerId};

/// The node's directories (`yarn.nodemanager.local-dirs`, `yarn.nodemanager.log-dirs`).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    local_dirs: Vec<PathBuf>,
    log_dirs: Vec<PathBuf>,
}

/// A directory list that is empty.
#[derive(Debug, thiserror::Error)]
#[error("{0} lists no directory")]
pub(crate) struct NoDirectory(&'static str);

impl Layout {
    pub(crate) fn new(local_dirs: Vec<PathBuf>, log_dirs: Vec<PathBuf>) -> Result<Layout, NoDirectory> {
        if local_dirs.is_empty() {
            return Err(NoDirectory("yarn.nodemanager.local-dirs"));
        }
        if log_dirs.is_empty() {
            return Err(NoDirectory("yarn.nodemanager.log-dirs"));
        }
        Ok(Layout { local_dirs, log_dirs })
    }

    /// The first local dir: working directories and caches live under it.
    pub(crate) fn local_root(&self) -> &PathBuf {
        &self.local_dirs[0]
    }

    /// `<local-dir>/usercache/<user>/appcache/<app>` for every local dir (YARN's `LOCAL_DIRS`).
    pub(crate) fn app_local_dirs(&self, user: &str, app: ApplicationId) -> Vec<PathBuf> {
        self.local_dirs.iter().map(|d| d.join("usercache").join(user).join("appcache").join(app.to_string())).collect()
    }

    /// `<first local-dir>/usercache/<user>/appcache/<app>/<container>/`.
    pub(crate) fn work_dir(&self, user: &str, id: ContainerId) -> PathBuf {
        self.local_root()
            .join("usercache")
            .join(user)
            .join("appcache")
            .join(id.application().to_string())
            .join(id.to_string())
    }

    /// The first log dir: every container's log directory is below it.
    pub(crate) fn log_root(&self) -> &PathBuf {
        &self.log_dirs[0]
    }

    /// The root-owned directories on the way to a container's own ones, which every container
    /// user must be able to pass: the local and log dirs themselves, `usercache`, the user's
    /// directory and its `appcache` in every local dir, and the application's log directory.
    pub(crate) fn passages(&self, user: &str, id: ContainerId) -> Vec<PathBuf> {
        let mut passages = Vec::new();
        for dir in &self.local_dirs {
            let usercache = dir.join("usercache");
            passages.extend([
                dir.clone(),
                usercache.clone(),
                usercache.join(user),
                usercache.join(user).join("appcache"),
            ]);
        }
        passages.extend([self.log_root().clone(), self.log_root().join(id.application().to_string())]);
        passages
    }

    /// `<first log-dir>/<app>/<container>/`, holding `stdout` and `stderr`; kept after the end.
    pub(crate) fn log_dir(&self, id: ContainerId) -> PathBuf {
        self.log_root().join(id.application().to_string()).join(id.to_string())
    }

    /// `<first local-dir>/filecache`: localized files by sha256.
    pub(crate) fn filecache(&self) -> PathBuf {
        self.local_root().join("filecache")
    }

    /// Every directory the NodeManager needs before it starts.
    pub(crate) fn roots(&self) -> impl Iterator<Item = &PathBuf> {
        self.local_dirs.iter().chain(&self.log_dirs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_yarns_layout() {
        let layout = Layout::new(vec!["/l1".into(), "/l2".into()], vec!["/logs".into()]).unwrap();
        let id: ContainerId = "container_1_0002_01_000003".parse().unwrap();
        assert_eq!(
            layout.work_dir("u", id),
            PathBuf::from("/l1/usercache/u/appcache/application_1_0002/container_1_0002_01_000003")
        );
        assert_eq!(layout.log_dir(id), PathBuf::from("/logs/application_1_0002/container_1_0002_01_000003"));
        assert_eq!(
            layout.app_local_dirs("u", id.application()),
            [
                PathBuf::from("/l1/usercache/u/appcache/application_1_0002"),
                PathBuf::from("/l2/usercache/u/appcache/application_1_0002")
            ]
        );
        assert_eq!(layout.filecache(), PathBuf::from("/l1/filecache"));
        assert!(Layout::new(vec![], vec!["/x".into()]).unwrap_err().to_string().contains("local-dirs"));
    }
}
