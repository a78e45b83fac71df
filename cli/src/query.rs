//! The filters of `application -list` and `node -list`, read the way YARN's CLI reads them: values are
//! comma lists whose blanks are skipped, states are case-insensitive, `ALL` means every state, and the
//! defaults are YARN's (SUBMITTED, ACCEPTED, RUNNING applications; RUNNING nodes).

use std::collections::BTreeSet;

use weft_proto::states::{AppState, NodeState};

use crate::error::CliError;

/// The non-blank items of comma lists such as `["YARN, ,,  NON-YARN", " ,,"]`, trimmed.
fn items(values: &[String]) -> impl Iterator<Item = &str> {
    values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|s| !s.is_empty())
}

fn valid_app_states() -> String {
    let names: Vec<&str> = std::iter::once("ALL").chain(AppState::ALL.iter().map(|s| s.as_str())).collect();
    format!("The valid application state can be one of the following: {}", names.join(","))
}

/// `-appStates`: empty means SUBMITTED, ACCEPTED, RUNNING; `ALL` anywhere means every state.
pub(crate) fn app_states(values: &[String]) -> Result<BTreeSet<AppState>, CliError> {
    let mut states = BTreeSet::new();
    for raw in values.iter().flat_map(|v| v.split(',')) {
        let name = raw.trim();
        if name.is_empty() {
            continue;
        }
        if name.eq_ignore_ascii_case("ALL") {
            return Ok(AppState::ALL.iter().copied().collect());
        }
        let state = name
            .parse::<AppState>()
            .map_err(|_| CliError::Usage(format!("The application state {raw} is invalid.\n{}", valid_app_states())))?;
        states.insert(state);
    }
    if states.is_empty() {
        states.extend([AppState::SUBMITTED, AppState::ACCEPTED, AppState::RUNNING]);
    }
    Ok(states)
}

/// `-appTypes`: upper-cased, as YARN compares them.
pub(crate) fn app_types(values: &[String]) -> BTreeSet<String> {
    items(values).map(str::to_ascii_uppercase).collect()
}

/// True when an application of `app_type` passes the `-appTypes` filter.
pub(crate) fn type_matches(types: &BTreeSet<String>, app_type: &str) -> bool {
    types.is_empty() || types.contains(&app_type.to_ascii_uppercase())
}

fn valid_node_states() -> String {
    let names: Vec<&str> = NodeState::ALL.iter().map(|s| s.as_str()).collect();
    format!("The valid node state can be one of the following: {}.", names.join(","))
}

/// `-all`, `-states`, or by default RUNNING.
pub(crate) fn node_states(all: bool, values: &[String]) -> Result<BTreeSet<NodeState>, CliError> {
    if all {
        return Ok(NodeState::ALL.iter().copied().collect());
    }
    let mut states = BTreeSet::new();
    for name in items(values) {
        let state = name
            .parse::<NodeState>()
            .map_err(|_| CliError::Usage(format!("The node state {name} is invalid.\n{}", valid_node_states())))?;
        states.insert(state);
    }
    if states.is_empty() {
        states.insert(NodeState::RUNNING);
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    fn check_apps(values: &[&str], expected: &[AppState]) {
        assert_eq!(app_states(&strings(values)).unwrap(), expected.iter().copied().collect());
    }

    #[test]
    fn app_states_like_yarn() {
        use AppState::*;
        check_apps(&[], &[SUBMITTED, ACCEPTED, RUNNING]);
        check_apps(&["FINISHED ,, , FAILED", ",,FINISHED"], &[FINISHED, FAILED]);
        check_apps(&["finished"], &[FINISHED]);
        check_apps(&["FINISHED ,, , ALL"], AppState::ALL);
        let err = app_states(&strings(&["FINISHED ,, , INVALID"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The application state  INVALID is invalid.\nThe valid application state can be one of the following: \
             ALL,NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING,FINISHED,FAILED,KILLED"
        );
        assert_eq!(err.exit_code(), 64);
    }

    #[test]
    fn app_types_are_upper_cased_and_blank_items_skipped() {
        let types = app_types(&strings(&["YARN, ,,  non-yarn", "   ,, ,,"]));
        assert_eq!(types, ["NON-YARN".to_owned(), "YARN".to_owned()].into());
        assert!(type_matches(&types, "yarn"));
        assert!(!type_matches(&types, "SPARK"));
        assert!(type_matches(&BTreeSet::new(), "SPARK"));
    }

    #[test]
    fn node_states_like_yarn() {
        use NodeState::*;
        assert_eq!(node_states(false, &[]).unwrap(), [RUNNING].into());
        assert_eq!(node_states(false, &strings(&["new,lost"])).unwrap(), [NEW, LOST].into());
        assert_eq!(node_states(true, &strings(&["NEW"])).unwrap().len(), NodeState::ALL.len());
        let err = node_states(false, &strings(&["GONE"])).unwrap_err().to_string();
        assert_eq!(
            err,
            "The node state GONE is invalid.\nThe valid node state can be one of the following: \
             NEW,RUNNING,UNHEALTHY,DECOMMISSIONED,LOST,REBOOTED,DECOMMISSIONING,SHUTDOWN."
        );
    }
}
