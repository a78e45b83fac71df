//! `yarn node -list`, as Hadoop's `NodeCLI` prints it.

use super::java::right;

/// What `node -list` prints about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeRow {
    pub(crate) id: String,
    pub(crate) state: String,
    pub(crate) http_address: String,
    pub(crate) running_containers: i32,
}

/// `NODES_PATTERN` of `NodeCLI`: `%16s\t%15s\t%17s\t%28s`.
fn row(id: &str, state: &str, http_address: &str, containers: &str) -> String {
    format!("{}\t{}\t{}\t{}\n", right(id, 16), right(state, 15), right(http_address, 17), right(containers, 28))
}

/// `Total Nodes:N`, the header, one row per node.
pub(crate) fn list(nodes: &[NodeRow]) -> String {
    let mut out = format!("Total Nodes:{}\n", nodes.len());
    out.push_str(&row("Node-Id", "Node-State", "Node-Http-Address", "Number-of-Running-Containers"));
    for node in nodes {
        out.push_str(&row(&node.id, &node.state, &node.http_address, &node.running_containers.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(nodes: &[NodeRow], expected: &[&str]) {
        assert_eq!(list(nodes), expected.concat());
    }

    // As Hadoop's TestYarnCLI#testListClusterNodes expects it.
    #[test]
    fn list_matches_yarn() {
        let node = |id: &str, state: &str| NodeRow {
            id: id.into(),
            state: state.into(),
            http_address: "host1:8888".into(),
            running_containers: 0,
        };
        check(
            &[node("host0:0", "NEW")],
            &[
                "Total Nodes:1\n",
                "         Node-Id\t     Node-State\tNode-Http-Address\t",
                "Number-of-Running-Containers\n",
                "         host0:0\t            NEW\t       host1:8888\t",
                "                           0\n",
            ],
        );
        check(
            &[],
            &[
                "Total Nodes:0\n",
                "         Node-Id\t     Node-State\tNode-Http-Address\t",
                "Number-of-Running-Containers\n",
            ],
        );
    }
}
