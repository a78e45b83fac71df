//! YARN's distributed shell: `client` submits an application master that runs a command in N
//! containers and waits for the outcome; `am` is that application master. `plan`, `book` and `watch`
//! are their pure parts; `client`, `am` and `launch` the adapters around them.

pub(crate) mod am;
pub(crate) mod book;
pub(crate) mod client;
pub(crate) mod launch;
pub(crate) mod plan;
pub(crate) mod watch;
