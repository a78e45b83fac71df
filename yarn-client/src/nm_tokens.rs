//! The NM tokens an application master holds, one per node. The ResourceManager sends the attempt a
//! node's token with its first grant there (YARN's `AllocateResponse.nm_tokens`) and not again, so
//! the session keeps each one and every call to that NodeManager carries it; a token sent later for
//! the same node (after a ResourceManager restart) replaces the one kept. Plain data.

use std::collections::HashMap;

use weft_proto::pb;

/// The attempt's NM tokens by node id (`host:port`, as a grant's `node_id` names the node).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NmTokens {
    by_node: HashMap<String, Vec<u8>>,
}

impl NmTokens {
    /// Keeps the tokens of an allocate reply, each replacing any kept for its node.
    pub fn keep(&mut self, tokens: Vec<pb::NmToken>) {
        for pb::NmToken { node_id, token } in tokens {
            self.by_node.insert(node_id, token);
        }
    }

    /// The token for the node `node_id` (an encoded `TokenProto`); `None` when none was sent.
    pub fn get(&self, node_id: &str) -> Option<&[u8]> {
        self.by_node.get(node_id).map(Vec::as_slice)
    }

    /// How many nodes a token is kept for.
    pub fn len(&self) -> usize {
        self.by_node.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(node_id: &str, token: &[u8]) -> pb::NmToken {
        pb::NmToken { node_id: node_id.into(), token: token.to_vec() }
    }

    #[test]
    fn a_token_is_kept_per_node_until_a_newer_one_for_that_node_comes() {
        let mut tokens = NmTokens::default();
        tokens.keep(vec![token("a:8041", b"a1"), token("b:8041", b"b1")]);
        tokens.keep(vec![]);
        assert_eq!((tokens.get("a:8041"), tokens.get("b:8041")), (Some(&b"a1"[..]), Some(&b"b1"[..])));
        tokens.keep(vec![token("a:8041", b"a2")]);
        assert_eq!((tokens.get("a:8041"), tokens.get("b:8041")), (Some(&b"a2"[..]), Some(&b"b1"[..])));
        assert_eq!((tokens.get("c:8041"), tokens.len()), (None, 2));
    }
}
