//! Compiles `proto/weft.proto` and `proto/spark.proto` with protox (a pure-Rust protobuf compiler), so no
//! system `protoc` is needed; and generates, from `weft.proto`'s own description of it, the
//! ApplicationMaster server the ResourceManager runs, whose Allocate answers with a message already
//! encoded (`encoded::Encoded`, see `src/encoded.rs`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/weft.proto");
    println!("cargo:rerun-if-changed=proto/spark.proto");
    let descriptors = protox::compile(["weft.proto", "spark.proto"], ["proto"])?;
    let encoded_server = encoded_server(&descriptors, "weft.v1", "ApplicationMaster", "Allocate")?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    tonic_build::manual::Builder::new().build_client(false).compile(&[encoded_server]);
    Ok(())
}

/// The server of `package.service` with every method as `weft.proto` declares it, but `method`
/// answering with `crate::encoded::Encoded`: the same routes and request types, read from the
/// descriptors so they cannot drift from the `.proto`.
fn encoded_server(
    descriptors: &prost_types::FileDescriptorSet,
    package: &str,
    service: &str,
    method: &str,
) -> Result<tonic_build::manual::Service, String> {
    let declared = descriptors
        .file
        .iter()
        .filter(|file| file.package() == package)
        .flat_map(|file| &file.service)
        .find(|s| s.name() == service)
        .ok_or_else(|| format!("no service {package}.{service} in the .proto files"))?;
    let rust_type = |proto_type: &str| format!("crate::pb::{}", proto_type.rsplit('.').next().unwrap_or(proto_type));
    let mut builder = tonic_build::manual::Service::builder().name(service).package(package);
    for m in &declared.method {
        if m.client_streaming() || m.server_streaming() {
            return Err(format!("{service}.{} streams; only unary methods are generated here", m.name()));
        }
        let output =
            if m.name() == method { "crate::encoded::Encoded".to_string() } else { rust_type(m.output_type()) };
        builder = builder.method(
            tonic_build::manual::Method::builder()
                .name(snake_case(m.name()))
                .route_name(m.name())
                .input_type(rust_type(m.input_type()))
                .output_type(output)
                .codec_path("tonic_prost::ProstCodec")
                .build(),
        );
    }
    Ok(builder.build())
}

/// `RegisterApplicationMaster` → `register_application_master`, as tonic names a method.
fn snake_case(name: &str) -> String {
    let mut snake = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake
}
