//! The argv pre-pass that lets YARN's spelling through clap.
//!
//! `yarn application -list -appStates ALL` uses single-dash long options (Apache Commons CLI); clap
//! reads `-list` as the short flags `-l -i -s -t`. Before clap parses, this pass rewrites the known
//! YARN options of `application` (`app`), `node` and `logs` to their `--` form:
//!
//! | verb | options rewritten |
//! |---|---|
//! | `application`, `app` | `-list -status -kill -appStates -appTypes -help` |
//! | `node` | `-list -all -states -help` |
//! | `logs` | `-applicationId -containerId -help` |
//!
//! It looks only at the words after one of those verbs (past `--config FILE`), stops at `--`, and
//! leaves everything else, including the `--` forms, untouched.

use std::ffi::OsString;

const APPLICATION: &[&str] = &["list", "status", "kill", "appStates", "appTypes", "help"];
const NODE: &[&str] = &["list", "all", "states", "help"];
const LOGS: &[&str] = &["applicationId", "containerId", "help"];

fn options_of(verb: &str) -> Option<&'static [&'static str]> {
    match verb {
        "application" | "app" => Some(APPLICATION),
        "node" => Some(NODE),
        "logs" => Some(LOGS),
        _ => None,
    }
}

/// The position of the verb: the first word after the program name and `--config FILE`.
fn verb_index(args: &[OsString]) -> usize {
    let mut i = 1;
    while let Some(word) = args.get(i).and_then(|a| a.to_str()) {
        match word {
            "--config" => i += 2,
            _ if word.starts_with("--config=") => i += 1,
            _ => break,
        }
    }
    i
}

/// `args` (program name first) with the YARN single-dash options of the verb rewritten to `--` form.
pub fn yarn_argv(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let verb = verb_index(&args);
    let Some(options) = args.get(verb).and_then(|a| a.to_str()).and_then(options_of) else {
        return args;
    };
    for arg in args.iter_mut().skip(verb + 1) {
        let Some(word) = arg.to_str() else { continue };
        if word == "--" {
            break;
        }
        let known = word.strip_prefix('-').is_some_and(|name| options.contains(&name));
        if known {
            *arg = OsString::from(format!("-{word}"));
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let args = input.split(' ').map(OsString::from);
        let out: Vec<String> = yarn_argv(args).into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(out.join(" "), expected);
    }

    #[test]
    fn yarn_options_become_double_dash() {
        check("weft application -list -appStates ALL", "weft application --list --appStates ALL");
        check("weft app -list -appTypes YARN", "weft app --list --appTypes YARN");
        check("weft application -status application_1_0001", "weft application --status application_1_0001");
        check("weft application -kill application_1_0001", "weft application --kill application_1_0001");
        check("weft node -list -all", "weft node --list --all");
        check("weft node -list -states RUNNING,LOST", "weft node --list --states RUNNING,LOST");
        check(
            "weft logs -applicationId application_1_0001 -containerId container_1_0001_01_000002",
            "weft logs --applicationId application_1_0001 --containerId container_1_0001_01_000002",
        );
        check("weft node -help", "weft node --help");
    }

    #[test]
    fn config_is_skipped_to_find_the_verb() {
        check("weft --config c.yaml node -list", "weft --config c.yaml node --list");
        check("weft --config=c.yaml application -list", "weft --config=c.yaml application --list");
    }

    #[test]
    fn everything_else_is_left_alone() {
        check("weft application --list", "weft application --list");
        check("weft node -list -appStates X", "weft node --list -appStates X");
        check("weft application -l", "weft application -l");
        check("weft shell --num-containers 1 -- sh -list", "weft shell --num-containers 1 -- sh -list");
        check("weft logs -applicationId a -- -containerId", "weft logs --applicationId a -- -containerId");
        check("weft submit -list", "weft submit -list");
        check("weft", "weft");
    }
}
