//! Compiles `proto/weft.proto` and `proto/spark.proto` with protox (a pure-Rust protobuf compiler), so no
//! system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/weft.proto");
    println!("cargo:rerun-if-changed=proto/spark.proto");
    let descriptors = protox::compile(["weft.proto", "spark.proto"], ["proto"])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    Ok(())
}
