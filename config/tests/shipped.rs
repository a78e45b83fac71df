//! Every YAML file shipped in `deploy/conf/` parses and validates, so operators start from files
//! that work.

use weft_config::{ClientConfig, NmConfig, RmConfig, Settings};

#[test]
fn shipped_configs_validate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/conf");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let settings = Settings::load(&path).unwrap_or_else(|e| panic!("{e}"));
        RmConfig::from_settings(&settings).unwrap_or_else(|e| panic!("{e}"));
        NmConfig::from_settings(&settings).unwrap_or_else(|e| panic!("{e}"));
        ClientConfig::from_settings(&settings);
        seen += 1;
    }
    assert!(seen >= 2, "expected the ResourceManager and NodeManager examples in {}", dir.display());
}

#[test]
fn defaults_validate() {
    let settings = Settings::defaults();
    RmConfig::from_settings(&settings).unwrap();
    NmConfig::from_settings(&settings).unwrap();
}
