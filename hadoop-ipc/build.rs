//! Compiles the Hadoop IPC and YARN `.proto` subset under `proto/` with protox (a pure-Rust protobuf
//! compiler) and prost-build, so no system `protoc` is needed.

const FILES: [&str; 5] = [
    "hadoop/rpc.proto",
    "hadoop/security.proto",
    "yarn/records.proto",
    "yarn/services.proto",
    "yarn/security_token.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for file in FILES {
        println!("cargo:rerun-if-changed=proto/{file}");
    }
    let descriptors = protox::compile(FILES, ["proto"])?;
    prost_build::Config::new().enable_type_names().compile_fds(descriptors)?;
    Ok(())
}
