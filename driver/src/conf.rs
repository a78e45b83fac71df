//! Spark's configuration (`SparkConf`): the application's `spark.*` properties as strings, typed
//! getters that read Spark's spellings (sizes `512m`, `2g`; durations `120s`, `200ms`, `1min`), and
//! accessors that apply Spark 4's defaults and rules, such as a container's memory overhead
//! (`facts/spark.md` §7, §8). Pure: `weft submit` fills it from its flags, `--conf` and the properties
//! file and hands it to the driver as JSON (`launch_env::CONF`); nothing here reads a file or the
//! environment.
//!
//! Every getter that parses returns `Err` with a message naming the key and the bad value, e.g.
//! `spark.executor.memory: invalid size "1.5g": … fractional values are not supported`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use weft_config::size;

pub use settings::{
    AmSettings, ConfError, DriverSettings, EventLogSettings, ExclusionSettings, ExecutorIoSettings, ExecutorSettings,
    SchedulerSettings, SparkSettings, SpeculationSettings, UiSettings,
};

mod accessors;
pub mod keys;
mod settings;
#[cfg(test)]
mod tests;

const MIB: u64 = 1024 * 1024;
/// Spark's `spark.{executor,driver}.minMemoryOverhead` default, and YARN's AM overhead floor.
const MIN_MEMORY_OVERHEAD_MB: i64 = 384;
const MEMORY_OVERHEAD_FACTOR: f64 = 0.10;

/// The unit of a bare number in a duration key (Spark declares one per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Milliseconds,
    Seconds,
}

/// `spark.submit.deployMode`: where the driver runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeployMode {
    /// In the `weft submit` process (an unmanaged application master). Spark's default.
    #[default]
    Client,
    /// In the application master's container on the cluster.
    Cluster,
}

impl DeployMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployMode::Client => "client",
            DeployMode::Cluster => "cluster",
        }
    }
}

impl fmt::Display for DeployMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `spark.scheduler.mode`: how concurrent jobs share the executors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchedulerMode {
    #[default]
    Fifo,
    Fair,
}

/// `spark.eventLog.compression.codec`: the codecs Weft writes event logs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventLogCodec {
    #[default]
    Zstd,
    Lz4,
}

impl EventLogCodec {
    /// Spark's short name, the log file's suffix.
    pub fn short_name(self) -> &'static str {
        match self {
            EventLogCodec::Zstd => "zstd",
            EventLogCodec::Lz4 => "lz4",
        }
    }
}

/// A file in the ResourceManager's staging store, as containers localize it: the shape of
/// `launch_env::APP_BINARY` and of each entry of `spark.weft.stagedFiles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// The file's name in the container's working directory.
    pub name: String,
    /// Lower-case hex sha256 of the content: its address in the store.
    pub sha256: String,
    pub size: u64,
    pub executable: bool,
}

impl StagedFile {
    /// One staged file as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a struct of strings and numbers serializes")
    }

    /// Reads one staged file from JSON; the error quotes the text.
    pub fn from_json(text: &str) -> Result<StagedFile, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid staged file {text:?}: {e}"))
    }
}

impl From<weft_proto::pb::LocalResource> for StagedFile {
    fn from(resource: weft_proto::pb::LocalResource) -> StagedFile {
        let weft_proto::pb::LocalResource { name, sha256, size, executable } = resource;
        StagedFile { name, sha256, size, executable }
    }
}

impl From<StagedFile> for weft_proto::pb::LocalResource {
    fn from(file: StagedFile) -> weft_proto::pb::LocalResource {
        let StagedFile { name, sha256, size, executable } = file;
        weft_proto::pb::LocalResource { name, sha256, size, executable }
    }
}

/// An application's Spark properties, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SparkConf {
    properties: BTreeMap<String, String>,
}

fn invalid(key: &str, value: &str, expected: &str) -> String {
    format!("{key}: invalid value {value:?}: expected {expected}")
}

/// Spark's time strings (`JavaUtils.timeStringAs`): a whole number and an optional unit; in ms.
fn parse_duration_ms(text: &str, default_unit: TimeUnit) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let n: u64 = number.parse().ok()?;
    let (multiplier, divisor) = match unit {
        "" => match default_unit {
            TimeUnit::Milliseconds => (1, 1),
            TimeUnit::Seconds => (1000, 1),
        },
        "us" => (1, 1000),
        "ms" => (1, 1),
        "s" => (1000, 1),
        "m" | "min" => (60 * 1000, 1),
        "h" => (3600 * 1000, 1),
        "d" => (24 * 3600 * 1000, 1),
        _ => return None,
    };
    n.checked_mul(multiplier).map(|ms| ms / divisor)
}

impl SparkConf {
    pub fn new() -> SparkConf {
        SparkConf::default()
    }

    /// Sets `key` to `value`, replacing what was there.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut SparkConf {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Sets `key` only when it has no value yet.
    pub fn set_if_missing(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut SparkConf {
        self.properties.entry(key.into()).or_insert_with(|| value.into());
        self
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.properties.remove(key)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.properties.contains_key(key)
    }

    /// Every property, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.properties.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.properties.len()
    }

    pub fn is_empty(&self) -> bool {
        self.properties.is_empty()
    }

    /// Reads a JSON object whose values are all strings (what [`SparkConf::to_json`] writes).
    pub fn from_json(text: &str) -> Result<SparkConf, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid Spark configuration JSON: {e}"))?;
        let serde_json::Value::Object(object) = value else {
            return Err("invalid Spark configuration JSON: expected an object of strings".to_owned());
        };
        let mut conf = SparkConf::new();
        for (key, value) in object {
            match value {
                serde_json::Value::String(text) => conf.set(key, text),
                other => {
                    return Err(format!("invalid Spark configuration JSON: {key}: expected a string, got {other}"))
                }
            };
        }
        Ok(conf)
    }

    /// One compact JSON object of strings, keys in order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.properties).expect("a map of strings serializes")
    }

    // ---- typed getters: `Ok(None)` when unset, `Err` naming the key and the value when malformed ----

    /// A size in whole MiB; a bare number is MiB (`spark.executor.memory` and the other memory keys).
    pub fn get_size_as_mb(&self, key: &str) -> Result<Option<i64>, String> {
        self.get(key).map(|v| size::parse_mb(v).map_err(|e| format!("{key}: {e}"))).transpose()
    }

    /// A size in bytes; a bare number is `default_unit_bytes` each.
    pub fn get_size_as_bytes(&self, key: &str, default_unit_bytes: u64) -> Result<Option<u64>, String> {
        self.get(key).map(|v| size::parse_bytes(v, default_unit_bytes).map_err(|e| format!("{key}: {e}"))).transpose()
    }

    /// A duration in ms from Spark's spellings (`200ms`, `3s`, `1min`, `2h`, `1d`, `500us`); a bare
    /// number is in the key's `default_unit`.
    pub fn get_time_as_ms(&self, key: &str, default_unit: TimeUnit) -> Result<Option<u64>, String> {
        let expected = "a whole number with an optional unit (us, ms, s, min, h, d), e.g. 120s or 200ms";
        self.get(key).map(|v| parse_duration_ms(v, default_unit).ok_or_else(|| invalid(key, v, expected))).transpose()
    }

    pub fn get_int(&self, key: &str) -> Result<Option<i64>, String> {
        self.get(key).map(|v| v.trim().parse().map_err(|_| invalid(key, v, "a whole number"))).transpose()
    }

    pub fn get_double(&self, key: &str) -> Result<Option<f64>, String> {
        let parse = |v: &str| v.trim().parse::<f64>().ok().filter(|x| x.is_finite());
        self.get(key).map(|v| parse(v).ok_or_else(|| invalid(key, v, "a number"))).transpose()
    }

    /// `true` or `false`, in any case.
    pub fn get_boolean(&self, key: &str) -> Result<Option<bool>, String> {
        let parse = |v: &str| match v.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        self.get(key).map(|v| parse(v).ok_or_else(|| invalid(key, v, "true or false"))).transpose()
    }

    /// A whole number from `min` to `max`, `default` when unset.
    fn int_in(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64, String> {
        let value = self.get_int(key)?.unwrap_or(default);
        if (min..=max).contains(&value) {
            return Ok(value);
        }
        let text = self.get(key).unwrap_or_default();
        Err(match max {
            i64::MAX => invalid(key, text, &format!("a whole number of at least {min}")),
            _ => invalid(key, text, &format!("a whole number from {min} to {max}")),
        })
    }

    fn count(&self, key: &str, default: u32, min: u32) -> Result<u32, String> {
        let value = self.int_in(key, default.into(), min.into(), i32::MAX.into())?;
        Ok(u32::try_from(value).expect("checked against i32::MAX"))
    }

    fn fraction(&self, key: &str, default: f64, accepts: fn(f64) -> bool, range: &str) -> Result<f64, String> {
        let value = self.get_double(key)?.unwrap_or(default);
        if accepts(value) {
            Ok(value)
        } else {
            Err(invalid(key, self.get(key).unwrap_or_default(), &format!("a number {range}")))
        }
    }

    fn boolean_or(&self, key: &str, default: bool) -> Result<bool, String> {
        Ok(self.get_boolean(key)?.unwrap_or(default))
    }

    fn memory_mb(&self, key: &str, default_mb: i64) -> Result<i64, String> {
        match self.get_size_as_mb(key)? {
            Some(0) => Err(invalid(key, self.get(key).unwrap_or_default(), "a size of at least 1m")),
            Some(mb) => Ok(mb),
            None => Ok(default_mb),
        }
    }

    /// Spark's rule: the explicit overhead if set, else max(minimum, factor × memory), truncated to MiB.
    fn overhead_mb(&self, memory_mb: i64, overhead_key: &str, factor: f64, min_key: &str) -> Result<i64, String> {
        if let Some(mb) = self.get_size_as_mb(overhead_key)? {
            return Ok(mb);
        }
        let minimum_mb = self.get_size_as_mb(min_key)?.unwrap_or(MIN_MEMORY_OVERHEAD_MB);
        Ok(minimum_mb.max((factor * memory_mb as f64) as i64))
    }

    /// The application's VIEW_APP and MODIFY_APP ACLs as Spark's YARN client sets them
    /// (`getApplicationAclsForYarn`), on the submission and on every executor's launch context:
    /// `user`, `spark.admin.acls` and `spark.ui.view.acls` / `spark.modify.acls`, one space, then
    /// `spark.admin.acls.groups` and the matching `.groups`; `*` in either list stands for everyone.
    pub fn yarn_app_acls(&self, user: &str) -> (String, String) {
        let acl = |users_key: &str, groups_key: &str| {
            let names = |key: &str| {
                self.get(key).unwrap_or_default().split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned)
            };
            let join = |list: Vec<String>| if list.iter().any(|n| n == "*") { "*".to_owned() } else { list.join(",") };
            let mut users: Vec<String> =
                names("spark.admin.acls").chain([user.to_owned()]).chain(names(users_key)).collect();
            users.retain(|n| !n.is_empty());
            users.dedup();
            let groups: Vec<String> = names("spark.admin.acls.groups").chain(names(groups_key)).collect();
            format!("{} {}", join(users), join(groups))
        };
        (acl("spark.ui.view.acls", "spark.ui.view.acls.groups"), acl("spark.modify.acls", "spark.modify.acls.groups"))
    }

    fn overhead_factor(&self, key: &str) -> Result<f64, String> {
        self.fraction(key, MEMORY_OVERHEAD_FACTOR, |x| x > 0.0, "greater than 0")
    }
}

impl FromIterator<(String, String)> for SparkConf {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> SparkConf {
        SparkConf { properties: iter.into_iter().collect() }
    }
}

impl Extend<(String, String)> for SparkConf {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        self.properties.extend(iter);
    }
}

impl<'a> IntoIterator for &'a SparkConf {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.properties.iter()
    }
}
