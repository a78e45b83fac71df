//! The configuration contract shared by `resourcemanager`, `nodemanager` and `weft`: one flat YAML map
//! whose keys are YARN's own names (`yarn.resourcemanager.address`, `yarn.nodemanager.resource.memory-mb`,
//! …). Values may be plain scalars or quoted strings (`4096` or `"4096"`), since everything in
//! yarn-site.xml is a string. Every key has a default, so a daemon starts with no file at all.
//!
//! Loading is two steps: [`Settings::parse`] reads the text into checked raw values (an unknown key or
//! a bad value is an error that names the file, the key and what is allowed, all problems at once);
//! then each program builds its typed view ([`RmConfig`], [`NmConfig`], [`ClientConfig`]).
//! Nothing here reads a file except [`Settings::load`].

mod error;
mod keys;
mod settings;
pub mod size;
mod views;

pub use error::{ConfigError, Problem};
pub use keys::KEYS;
pub use settings::Settings;
pub use views::{ClientConfig, ExecutorConfig, ExecutorKind, NmConfig, RmConfig};

/// Exit status for a configuration or usage error (`EX_USAGE` from sysexits.h).
pub const EXIT_USAGE: i32 = 64;
