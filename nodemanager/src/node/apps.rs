//! Applications as this NodeManager sees them: derived from their containers and from the
//! ResourceManager's word that they have finished.

use std::fmt;
use std::str::FromStr;

use weft_proto::{ApplicationId, ContainerId};

/// YARN's NodeManager application states (`facts/yarn.md` §4.4), the subset Weft reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub(crate) enum NmAppState {
    /// Some container of it is known here and the ResourceManager has not said it finished.
    RUNNING,
    /// The ResourceManager said it finished; its containers are being stopped.
    FINISHING_CONTAINERS_WAIT,
    /// The ResourceManager said it finished and none of its containers runs.
    FINISHED,
}

impl NmAppState {
    pub(crate) const ALL: [NmAppState; 3] =
        [NmAppState::RUNNING, NmAppState::FINISHING_CONTAINERS_WAIT, NmAppState::FINISHED];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NmAppState::RUNNING => "RUNNING",
            NmAppState::FINISHING_CONTAINERS_WAIT => "FINISHING_CONTAINERS_WAIT",
            NmAppState::FINISHED => "FINISHED",
        }
    }
}

impl fmt::Display for NmAppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An application state name that Weft's NodeManager does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid application state {input:?}: allowed values are {allowed}")]
pub(crate) struct BadAppState {
    input: String,
    allowed: String,
}

/// Case-insensitive, as YARN's REST filters are.
impl FromStr for NmAppState {
    type Err = BadAppState;

    fn from_str(input: &str) -> Result<Self, BadAppState> {
        let upper = input.trim().to_ascii_uppercase();
        NmAppState::ALL.into_iter().find(|s| s.as_str() == upper).ok_or_else(|| BadAppState {
            input: input.to_owned(),
            allowed: NmAppState::ALL.map(NmAppState::as_str).join(", "),
        })
    }
}

/// One application on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NmApp {
    pub(crate) id: ApplicationId,
    pub(crate) user: String,
    pub(crate) state: NmAppState,
    /// Containers of it that are not DONE.
    pub(crate) running: Vec<ContainerId>,
}
