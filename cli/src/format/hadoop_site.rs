//! The `yarn-site.xml` and `core-site.xml` a Hadoop client (spark-submit, Hadoop's `yarn` command,
//! any program on Hadoop's client library) needs to use a Weft cluster: Hadoop's configuration
//! format, rendered from the addresses `weft` itself connects to. Pure: data in, text out.

use weft_config::ClientConfig;

/// Each file's name and its text, in the order they are written.
pub(crate) fn files(config: &ClientConfig) -> [(&'static str, String); 2] {
    let max_wait = config.connect_max_wait.as_millis().to_string();
    let interval = config.connect_retry_interval.as_millis().to_string();
    let yarn = [
        (
            "yarn.resourcemanager.address",
            config.rm_address.as_str(),
            "The ResourceManager's client service (submit, reports, kill): Hadoop IPC and Weft's gRPC on one port.",
        ),
        (
            "yarn.resourcemanager.scheduler.address",
            config.rm_scheduler_address.as_str(),
            "Where application masters register and allocate (Hadoop IPC with AMRM tokens).",
        ),
        ("yarn.resourcemanager.webapp.address", config.rm_webapp_address.as_str(), "The REST API and web pages."),
        (
            "yarn.resourcemanager.connect.max-wait.ms",
            max_wait.as_str(),
            "How long clients and application masters keep trying a ResourceManager that is down (a restart).",
        ),
        ("yarn.resourcemanager.connect.retry-interval.ms", interval.as_str(), "The wait between those tries."),
    ];
    let core = [
        (
            "fs.defaultFS",
            "file:///",
            "Weft has no distributed file system: staging directories are local paths, so every host must see \
             the submitting user's staging directory at the same path (one host, or a shared mount).",
        ),
        ("hadoop.security.authentication", "simple", "Users are named by the client; containers need tokens."),
    ];
    [("yarn-site.xml", document(&yarn)), ("core-site.xml", document(&core))]
}

fn document(properties: &[(&str, &str, &str)]) -> String {
    let mut text = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <?xml-stylesheet type=\"text/xsl\" href=\"configuration.xsl\"?>\n\
         <!-- Written by `weft hadoop-conf` for a Weft cluster. -->\n\
         <configuration>\n",
    );
    for (name, value, description) in properties {
        text.push_str(&format!(
            "  <property>\n    <name>{}</name>\n    <value>{}</value>\n    <description>{}</description>\n  </property>\n",
            escape(name),
            escape(value),
            escape(description)
        ));
    }
    text.push_str("</configuration>\n");
    text
}

/// XML character data: the five characters XML reserves become entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClientConfig {
        ClientConfig {
            rm_address: "rm.example:8032".into(),
            rm_webapp_address: "rm.example:8088".into(),
            rm_scheduler_address: "rm.example:8030".into(),
            connect_max_wait: std::time::Duration::from_secs(900),
            connect_retry_interval: std::time::Duration::from_secs(30),
        }
    }

    #[test]
    fn yarn_site_names_the_three_addresses() {
        let [(yarn_name, yarn), (core_name, core)] = files(&config());
        assert_eq!((yarn_name, core_name), ("yarn-site.xml", "core-site.xml"));
        for (key, value) in [
            ("yarn.resourcemanager.address", "rm.example:8032"),
            ("yarn.resourcemanager.scheduler.address", "rm.example:8030"),
            ("yarn.resourcemanager.webapp.address", "rm.example:8088"),
        ] {
            assert!(yarn.contains(&format!("<name>{key}</name>\n    <value>{value}</value>")), "{yarn}");
        }
        assert!(core.contains("<name>fs.defaultFS</name>\n    <value>file:///</value>"), "{core}");
        assert!(core.contains("<value>simple</value>"), "{core}");
        assert!(yarn.starts_with("<?xml") && yarn.ends_with("</configuration>\n"));
    }

    #[test]
    fn reserved_characters_are_escaped() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
