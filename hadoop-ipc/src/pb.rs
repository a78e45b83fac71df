//! The generated protobuf types.
#![allow(clippy::all, missing_docs, unreachable_pub)]

pub mod common {
    include!(concat!(env!("OUT_DIR"), "/hadoop.common.rs"));
}
pub mod yarn {
    include!(concat!(env!("OUT_DIR"), "/hadoop.yarn.rs"));
}
