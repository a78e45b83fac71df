//! Output in the exact shapes Hadoop's `yarn` CLI prints (`ApplicationCLI`, `NodeCLI`, `LogsCLI`), so
//! scripts that parse `yarn application -list` or `yarn logs` read `weft`'s output too. Pure functions
//! from plain data to text; no I/O.

pub(crate) mod apps;
pub(crate) mod hadoop_site;
pub(crate) mod java;
pub(crate) mod logs;
pub(crate) mod nodes;
