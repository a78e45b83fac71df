//! `weft node -list [-all] [-states S1,S2]`.

use std::process::ExitCode;

use weft_config::ClientConfig;
use weft_proto::pb;

use super::emit;
use crate::convert;
use crate::error::CliError;
use crate::format::nodes;
use crate::query;
use weft_yarn_client::rm::Rm;

#[derive(Debug, clap::Args)]
pub(crate) struct NodeArgs {
    /// List nodes: RUNNING ones unless -all or -states says otherwise
    #[arg(long, required = true)]
    list: bool,
    /// With -list: every node, whatever its state
    #[arg(long, conflicts_with = "states")]
    all: bool,
    /// With -list: comma-separated node states
    #[arg(long, value_name = "STATES", num_args = 1..)]
    states: Vec<String>,
}

pub(crate) async fn run(args: NodeArgs, config: &ClientConfig) -> Result<ExitCode, CliError> {
    let states = query::node_states(args.all, &args.states)?;
    let mut rm = Rm::connect(&config.rm_address, crate::retry(config)).await?;
    let request = pb::GetClusterNodesRequest { states: states.iter().map(|s| s.to_string()).collect() };
    let reply = rm.apps.get_cluster_nodes(request).await.map_err(|s| rm.error("list nodes", s))?;
    let rows: Vec<nodes::NodeRow> = reply.into_inner().nodes.into_iter().map(convert::node_row).collect();
    emit(&nodes::list(&rows))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;

    #[test]
    fn yarn_syntax_parses() {
        assert!(parse("weft node -list").is_ok());
        assert!(parse("weft node -list -all").is_ok());
        assert!(parse("weft node -list -states RUNNING,LOST").is_ok());
        assert!(parse("weft node --list --states RUNNING LOST").is_ok());
        assert!(parse("weft node -all").is_err(), "-list is the action");
        assert!(parse("weft node -list -all -states NEW").is_err());
    }
}
