//! Raw settings: the flat YAML map checked key by key against [`crate::KEYS`], defaults filled in.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{ConfigError, Problem};
use crate::keys::{self, Kind};
use crate::size;

/// Every known key with a checked value (from the file, or the default).
#[derive(Debug, Clone)]
pub struct Settings {
    source_name: String,
    values: BTreeMap<&'static str, String>,
}

impl Settings {
    /// All defaults, as when a daemon starts without `--config`.
    pub fn defaults() -> Settings {
        Settings::parse("", "<defaults>").expect("every default is valid")
    }

    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: name.clone(),
            problems: vec![Problem { key: String::new(), message: format!("cannot read the file: {e}") }],
        })?;
        Settings::parse(&text, &name)
    }

    /// `Settings::load` when a path is given, else the defaults.
    pub fn load_optional(path: Option<&Path>) -> Result<Settings, ConfigError> {
        path.map_or_else(|| Ok(Settings::defaults()), Settings::load)
    }

    /// Checks `text` (a flat YAML map) and fills in defaults; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Settings, ConfigError> {
        let mut problems = Vec::new();
        let given = read_flat_map(text, &mut problems);
        let mut values = BTreeMap::new();
        for (name, value) in given {
            let Some(key) = keys::find(&name) else {
                let hint = keys::suggest(&name).map(|s| format!(" (did you mean {s}?)")).unwrap_or_default();
                problems.push(Problem { key: name, message: format!("unknown key{hint}") });
                continue;
            };
            match check(key.kind, &value) {
                Ok(()) => {
                    values.insert(key.name, value);
                }
                Err(message) => problems.push(Problem { key: name, message: format!("value {value:?}: {message}") }),
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError { source_name: source_name.to_owned(), problems });
        }
        let mut settings = Settings { source_name: source_name.to_owned(), values };
        settings.fill_defaults();
        Ok(settings)
    }

    /// The file (or `<defaults>`) these settings came from.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// The value of `name` as text. Panics on a key Weft does not know: that is a programming error.
    pub fn text(&self, name: &str) -> &str {
        self.values.get(name).unwrap_or_else(|| panic!("unknown configuration key {name}"))
    }

    pub(crate) fn int(&self, name: &str) -> i64 {
        self.text(name).trim().parse().expect("checked as an integer")
    }

    pub(crate) fn memory_mb(&self, name: &str) -> i64 {
        let text = self.text(name).trim();
        if text == "-1" {
            return -1;
        }
        size::parse_mb(text).expect("checked as a size")
    }

    pub(crate) fn dirs(&self, name: &str) -> Vec<std::path::PathBuf> {
        split_list(self.text(name)).map(std::path::PathBuf::from).collect()
    }

    fn fill_defaults(&mut self) {
        for key in keys::KEYS {
            if !self.values.contains_key(key.name) {
                let value = self.expand(key.default);
                self.values.insert(key.name, value);
            }
        }
    }

    /// Replaces `${key}` with that key's value (given or default) and `${user.name}` with the user.
    fn expand(&self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').map(|e| start + e).unwrap_or(rest.len());
            let name = &rest[start + 2..end];
            out.push_str(&self.lookup(name));
            rest = rest.get(end + 1..).unwrap_or("");
        }
        out.push_str(rest);
        out
    }

    fn lookup(&self, name: &str) -> String {
        if name == "user.name" {
            return std::env::var("USER").unwrap_or_else(|_| "root".to_owned());
        }
        match self.values.get(name) {
            Some(value) => value.clone(),
            None => keys::find(name).map(|k| self.expand(k.default)).unwrap_or_default(),
        }
    }
}

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Reads a flat map of scalar values; nested values and non-string keys are problems.
fn read_flat_map(text: &str, problems: &mut Vec<Problem>) -> Vec<(String, String)> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    let value: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            problems.push(Problem { key: String::new(), message: format!("not valid YAML: {e}") });
            return Vec::new();
        }
    };
    let mapping = match value {
        serde_yaml::Value::Mapping(mapping) => mapping,
        serde_yaml::Value::Null => return Vec::new(),
        _ => {
            problems.push(Problem {
                key: String::new(),
                message: "expected a flat map of YARN keys to values, e.g. `yarn.nodemanager.resource.memory-mb: 8192`"
                    .into(),
            });
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (k, v) in mapping {
        let Some(name) = scalar_text(&k) else {
            problems.push(Problem { key: format!("{k:?}"), message: "keys must be strings".into() });
            continue;
        };
        match scalar_text(&v) {
            Some(value) => out.push((name, value)),
            None => problems.push(Problem {
                key: name,
                message: "expected a single value (number, boolean or string); the file is one flat map, not nested"
                    .into(),
            }),
        }
    }
    out
}

fn scalar_text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Checks one value against its kind; the message says what is allowed.
fn check(kind: Kind, value: &str) -> Result<(), String> {
    let value = value.trim();
    match kind {
        Kind::Address => check_address(value),
        Kind::Host => check_host(value),
        Kind::Int { min, max } => match value.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(format!("expected a whole number from {min} to {max}")),
        },
        Kind::MemoryMb { allow_detect } => {
            if allow_detect && value == "-1" {
                return Ok(());
            }
            match size::parse_mb(value) {
                Ok(mb) if mb > 0 => Ok(()),
                Ok(_) => Err("expected a size above 0".into()),
                Err(e) => Err(format!("{e}{}", if allow_detect { ", or -1 to detect" } else { "" })),
            }
        }
        Kind::Float { min, max } => match value.parse::<f64>() {
            Ok(x) if x >= min && x <= max => Ok(()),
            _ => Err(format!("expected a number from {min} to {max}")),
        },
        Kind::Bool => match value {
            "true" | "false" => Ok(()),
            _ => Err("expected true or false".into()),
        },
        Kind::Dirs => {
            let dirs: Vec<&str> = split_list(value).collect();
            if dirs.is_empty() {
                return Err("expected a comma-separated list of absolute directories".into());
            }
            match dirs.iter().find(|d| !Path::new(d).is_absolute()) {
                Some(d) => Err(format!("directory {d:?} is not absolute")),
                None => Ok(()),
            }
        }
        Kind::Text => Ok(()),
    }
}

fn check_host(value: &str) -> Result<(), String> {
    let ok =
        !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if ok {
        Ok(())
    } else {
        Err("expected a host name or IP address".into())
    }
}

fn check_address(value: &str) -> Result<(), String> {
    let expected = "expected host:port with a port from 0 to 65535";
    let (host, port) = value.rsplit_once(':').ok_or(expected)?;
    check_host(host).map_err(|_| expected.to_owned())?;
    port.parse::<u16>().map(|_| ()).map_err(|_| expected.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> String {
        Settings::parse(text, "site.yaml").unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_yarns() {
        let s = Settings::defaults();
        assert_eq!(s.text("yarn.resourcemanager.address"), "0.0.0.0:8032");
        assert_eq!(s.text("yarn.resourcemanager.webapp.address"), "0.0.0.0:8088");
        assert_eq!(s.text("yarn.nodemanager.address"), "0.0.0.0:8041");
        assert_eq!(s.int("yarn.resourcemanager.am.max-attempts"), 2);
        assert_eq!(s.memory_mb("yarn.scheduler.minimum-allocation-mb"), 1024);
    }

    #[test]
    fn hostname_feeds_the_default_addresses() {
        let s = Settings::parse("yarn.resourcemanager.hostname: rm1.example.com", "t").unwrap();
        assert_eq!(s.text("yarn.resourcemanager.scheduler.address"), "rm1.example.com:8030");
        let s = Settings::parse("hadoop.tmp.dir: /data/tmp", "t").unwrap();
        assert_eq!(s.dirs("yarn.nodemanager.local-dirs"), vec![std::path::PathBuf::from("/data/tmp/nm-local-dir")]);
    }

    #[test]
    fn numbers_may_be_quoted() {
        let s = Settings::parse(
            "yarn.nodemanager.resource.memory-mb: \"4096\"\nyarn.scheduler.maximum-allocation-mb: 16g\n",
            "t",
        )
        .unwrap();
        assert_eq!(s.memory_mb("yarn.nodemanager.resource.memory-mb"), 4096);
        assert_eq!(s.memory_mb("yarn.scheduler.maximum-allocation-mb"), 16384);
    }

    #[test]
    fn unknown_keys_are_named_with_a_suggestion() {
        let err = problems("yarn.nodemanager.resource.memory_mb: 4096");
        assert!(err.starts_with("site.yaml: key yarn.nodemanager.resource.memory_mb: unknown key"), "{err}");
        assert!(err.contains("did you mean yarn.nodemanager.resource.memory-mb?"), "{err}");
    }

    #[test]
    fn bad_values_name_file_key_value_and_range_all_at_once() {
        let err = problems("yarn.resourcemanager.am.max-attempts: 0\nyarn.scheduler.minimum-allocation-mb: 12x\nyarn.resourcemanager.address: nowhere\n");
        assert!(
            err.contains(
                "key yarn.resourcemanager.am.max-attempts: value \"0\": expected a whole number from 1 to 1000"
            ),
            "{err}"
        );
        assert!(err.contains("key yarn.scheduler.minimum-allocation-mb: value \"12x\""), "{err}");
        assert!(err.contains("key yarn.resourcemanager.address: value \"nowhere\": expected host:port"), "{err}");
    }

    #[test]
    fn nested_maps_and_non_maps_are_refused() {
        assert!(problems("yarn:\n  nodemanager: 1\n").contains("flat map"));
        assert!(problems("- a\n- b\n").contains("flat map"));
        assert!(problems("yarn.nodemanager.local-dirs: relative/dir").contains("not absolute"));
        assert!(problems(": : :").contains("not valid YAML"));
    }
}
