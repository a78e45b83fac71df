//! State names exactly as YARN's public API spells them, shared by the daemons, REST and the CLI.

use std::fmt;
use std::str::FromStr;

/// A state name that is not one of the allowed values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {input:?}: allowed values are {allowed}")]
pub struct StateError {
    pub kind: &'static str,
    pub input: String,
    pub allowed: String,
}

macro_rules! yarn_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal, [$($variant:ident),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Case-insensitive, as YARN's REST filters and CLI accept `running` and `RUNNING`.
        impl FromStr for $name {
            type Err = StateError;
            fn from_str(input: &str) -> Result<Self, StateError> {
                let upper = input.trim().to_ascii_uppercase();
                $(if upper == stringify!($variant) { return Ok($name::$variant); })*
                Err(StateError {
                    kind: $kind,
                    input: input.to_owned(),
                    allowed: Self::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

yarn_enum!(
    /// YARN's `YarnApplicationState`.
    AppState, "application state",
    [NEW, NEW_SAVING, SUBMITTED, ACCEPTED, RUNNING, FINISHED, FAILED, KILLED]
);

yarn_enum!(
    /// YARN's `FinalApplicationStatus`: what the application master said of its outcome.
    FinalStatus, "final application status",
    [UNDEFINED, SUCCEEDED, FAILED, KILLED]
);

yarn_enum!(
    /// YARN's `YarnApplicationAttemptState`.
    AttemptState, "application attempt state",
    [NEW, SUBMITTED, SCHEDULED, ALLOCATED_SAVING, ALLOCATED, LAUNCHED, FAILED, RUNNING, FINISHING, FINISHED, KILLED]
);

yarn_enum!(
    /// YARN's `NodeState`.
    NodeState, "node state",
    [NEW, RUNNING, UNHEALTHY, DECOMMISSIONED, LOST, REBOOTED, DECOMMISSIONING, SHUTDOWN]
);

yarn_enum!(
    /// YARN's API `ContainerState`, as the ResourceManager reports containers.
    ContainerState, "container state",
    [NEW, RUNNING, COMPLETE]
);

impl AppState {
    /// FINISHED, FAILED and KILLED: nothing more will happen to the application.
    pub fn is_final(self) -> bool {
        matches!(self, AppState::FINISHED | AppState::FAILED | AppState::KILLED)
    }
}

impl NodeState {
    /// NEW, RUNNING, UNHEALTHY and DECOMMISSIONING: YARN's "active" nodes, listed by default.
    pub fn is_active(self) -> bool {
        matches!(self, NodeState::NEW | NodeState::RUNNING | NodeState::UNHEALTHY | NodeState::DECOMMISSIONING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_case_insensitively_and_print_as_yarn() {
        assert_eq!("running".parse::<AppState>().unwrap(), AppState::RUNNING);
        assert_eq!(AppState::NEW_SAVING.to_string(), "NEW_SAVING");
        let err = "DONE".parse::<AppState>().unwrap_err().to_string();
        assert!(err.contains("\"DONE\"") && err.contains("ACCEPTED"), "{err}");
    }
}
