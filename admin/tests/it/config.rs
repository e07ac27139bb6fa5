//! `herald-admin config …` through the real binary: precedence, env names, every kind of
//! validation error with exit 78, `_FILE` secrets.

use serde_json::Value;
use std::process::Output;
use testkit::{run_admin, temp_dir};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn show(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut all = args.to_vec();
    all.extend(["config", "show"]);
    let out = run_admin(&all, env);
    assert!(out.status.success(), "config show failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("config show prints JSON")
}

#[test]
fn precedence_is_defaults_then_files_then_env_then_flags() {
    let dir = temp_dir("precedence");
    let first = dir.join("a.yaml");
    let second = dir.join("b.toml");
    std::fs::write(&first, "serve:\n  port: 1001\n  host: 127.0.0.1\nlog:\n  level: debug\n").unwrap();
    std::fs::write(&second, "[serve]\nport = 1002\n").unwrap();
    let third = dir.join("c.json");
    std::fs::write(&third, r#"{"worker": {"shutdown_timeout": "9s"}}"#).unwrap();
    let files = ["-c", first.to_str().unwrap(), "-c", second.to_str().unwrap(), "-c", third.to_str().unwrap()];

    let doc = show(&files, &[]);
    assert_eq!(doc["serve"]["port"], 1002, "the later file wins");
    assert_eq!(doc["serve"]["host"], "127.0.0.1", "keys merge across files");
    assert_eq!(doc["log"]["level"], "debug");
    assert_eq!(doc["worker"]["port"], 8072, "defaults fill the rest");
    assert_eq!(doc["worker"]["shutdown_timeout"], "9s", "JSON files merge too");

    let doc = show(&files, &[("HERALD_SERVE_PORT", "1003")]);
    assert_eq!(doc["serve"]["port"], 1003, "env beats files");

    let mut with_flag = files.to_vec();
    with_flag.extend(["--set", "serve.port=1004", "--log-level", "warn"]);
    let doc = show(&with_flag, &[("HERALD_SERVE_PORT", "1003"), ("HERALD_LOG_LEVEL", "error")]);
    assert_eq!(doc["serve"]["port"], 1004, "flags beat env");
    assert_eq!(doc["log"]["level"], "warn");

    // HERALD_CONFIG names files when --config is absent.
    let joined = format!("{}:{}", first.display(), second.display());
    let doc = show(&[], &[("HERALD_CONFIG", &joined)]);
    assert_eq!(doc["serve"]["port"], 1002);

    let out =
        run_admin(&["config", "show", "--origins", "-c", first.to_str().unwrap()], &[("HERALD_LOG_FORMAT", "text")]);
    let text = stdout(&out);
    assert!(text.contains(&format!("serve.port = 1001  (file {})", first.display())), "{text}");
    assert!(text.contains("log.format = \"text\"  (env HERALD_LOG_FORMAT)"), "{text}");
    assert!(text.contains("worker.port = 8072  (default)"), "{text}");
}

#[test]
fn every_key_is_settable_by_its_env_name() {
    let out = run_admin(&["config", "env"], &[]);
    assert!(out.status.success());
    let listing = stdout(&out);
    let schema: Value = serde_json::from_slice(&run_admin(&["config", "schema"], &[]).stdout).expect("schema is JSON");
    let mut keys = Vec::new();
    collect_keys(&schema, "", &mut keys);
    assert!(keys.len() >= 10, "{keys:?}");
    let (cert, private) = testkit::self_signed(&testkit::temp_dir("env-tls"), "env");
    let (cert, private) = (cert.display().to_string(), private.display().to_string());
    for key in keys {
        let env = format!("HERALD_{}", key.replace('.', "_").to_uppercase());
        assert!(listing.contains(&env), "config env does not list {env}");
        let value = match key.as_str() {
            "serve.port"
            | "worker.port"
            | "serve.workers"
            | "database.pool.max_size"
            | "worker.concurrency"
            | "delivery.max_response_bytes"
            | "retention.batch_size" => "7",
            "delivery.retry_schedule" => "[\"7s\"]",
            "delivery.header_style" => "svix",
            "queue.quorum" => "true",
            "queue.prefetch" | "queue.publish_buffer" => "7",
            "queue.name" => "q.test",
            "database.url" => "postgres://h/db",
            "queue.url" => "amqp://h",
            "serve.public_url" => "https://hooks.example.com",
            "serve.portal_frame_ancestors" => "[\"https://dash.example.com\"]",
            "log.level" => "debug",
            "log.format" => "text",
            "delivery.allowed_cidrs" => "[\"10.0.0.0/8\"]",
            "delivery.proxy" => "socks5://egress.internal:1080",
            "delivery.no_proxy" => "[\".internal.example.com\"]",
            "delivery.proxy_checks_destinations" => "true",
            "secrets.keys" => testkit::TEST_SECRETS_KEYS,
            "api.max_payload_bytes" => "2048",
            "serve.host" | "worker.host" => "127.0.0.2",
            "serve.tls.cert" => &cert,
            "serve.tls.key" => &private,
            "tracing.otlp_endpoint" => "http://collector.internal:4318",
            "tracing.sample_ratio" => "0.25",
            "tracing.send_traceparent" => "true",
            _ => "7s",
        };
        // The TLS pair goes together: its partner comes along.
        let mut vars = vec![(env.as_str(), value)];
        match key.as_str() {
            "serve.tls.cert" => vars.push(("HERALD_SERVE_TLS_KEY", &private)),
            "serve.tls.key" => vars.push(("HERALD_SERVE_TLS_CERT", &cert)),
            _ => {}
        }
        let out = run_admin(&["config", "show", "--origins"], &vars);
        assert!(out.status.success(), "{env}={value}: {}", stderr(&out));
        let line = stdout(&out).lines().find(|l| l.starts_with(&format!("{key} = "))).map(str::to_owned);
        assert!(line.as_deref().is_some_and(|l| l.ends_with(&format!("(env {env})"))), "{env}: {line:?}");
    }
}

fn collect_keys(node: &Value, prefix: &str, out: &mut Vec<String>) {
    let Some(props) = node.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, child) in props {
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        if child.get("properties").is_some() {
            collect_keys(child, &path, out);
        } else {
            out.push(path);
        }
    }
}

fn assert_config_error(args: &[&str], env: &[(&str, &str)], expected: &[&str]) {
    let mut all = args.to_vec();
    all.extend(["config", "validate"]);
    let out = run_admin(&all, env);
    assert_eq!(out.status.code(), Some(78), "expected exit 78 for {args:?} {env:?}; stderr: {}", stderr(&out));
    let err = stderr(&out);
    for piece in expected {
        assert!(err.contains(piece), "stderr lacks {piece:?}:\n{err}");
    }
    assert!(stdout(&out).is_empty(), "nothing on stdout for an invalid config");
}

#[test]
fn each_kind_of_validation_error_exits_78_naming_key_and_source() {
    let dir = temp_dir("invalid");
    let yaml = dir.join("bad.yaml");
    std::fs::write(&yaml, "serve:\n  port: high\n  colour: blue\n").unwrap();
    let yaml_arg = yaml.to_str().unwrap();
    let file_source = format!("file {}", yaml.display());
    assert_config_error(
        &["-c", yaml_arg],
        &[],
        &["serve.port", "integer", &file_source, "serve.colour", "unknown key"],
    );

    assert_config_error(&[], &[("HERALD_SERVE_PORT", "99999")], &["serve.port", "99999", "env HERALD_SERVE_PORT"]);
    assert_config_error(&[], &[("HERALD_LOG_LEVEL", "loud")], &["log.level", "loud", "env HERALD_LOG_LEVEL"]);
    assert_config_error(&["--set", "log.format=xml"], &[], &["log.format", "flag --set log.format"]);
    assert_config_error(&["--set", "no.such=1"], &[], &["no.such", "unknown key"]);
    assert_config_error(&[], &[("HERALD_DATABSE_URL", "x")], &["HERALD_DATABSE_URL", "unknown variable"]);
    assert_config_error(&[], &[("DATABASE_URL", "redis://x")], &["database.url", "env DATABASE_URL"]);
    assert_config_error(&[], &[("HERALD_DELIVERY_ALLOWED_CIDRS", "10.0.0.0/8")], &["delivery.allowed_cidrs", "JSON"]);
    assert_config_error(&[], &[("HERALD_DELIVERY_ALLOWED_CIDRS", "[\"10.0.0.300/8\"]")], &["CIDR"]);
    assert_config_error(&[], &[("HERALD_SERVE_SHUTDOWN_TIMEOUT", "soon")], &["serve.shutdown.timeout"]);

    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"serve\": ").unwrap();
    assert_config_error(&["-c", broken.to_str().unwrap()], &[], &["cannot parse", "broken.json"]);
    assert_config_error(&["-c", "/nonexistent/herald.yaml"], &[], &["cannot read", "/nonexistent/herald.yaml"]);
    let odd = dir.join("config.ini");
    std::fs::write(&odd, "x=1").unwrap();
    assert_config_error(&["-c", odd.to_str().unwrap()], &[], &["unknown file type"]);

    // Every problem is reported at once, not only the first.
    assert_config_error(
        &[],
        &[("HERALD_SERVE_PORT", "x"), ("HERALD_LOG_LEVEL", "loud")],
        &["serve.port", "log.level", "2 problems"],
    );
}

#[test]
fn bad_cli_arguments_are_refused_with_usage() {
    let out = run_admin(&["migrate", "down", "--steps", "0"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--steps"));
    let out = run_admin(&["--set", "novalue", "config", "show"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("KEY=VALUE"));
    let out = run_admin(&["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn secrets_come_from_files_and_are_redacted() {
    let dir = temp_dir("secret");
    let db_file = dir.join("from-secret.db");
    let secret = dir.join("database_url");
    std::fs::write(&secret, format!("sqlite://{}\n", db_file.display())).unwrap();
    let secret_arg = secret.to_str().unwrap();

    // The value read from the file is the one used: migrating creates that database.
    for var in ["HERALD_DATABASE_URL_FILE", "DATABASE_URL_FILE"] {
        let _ = std::fs::remove_file(&db_file);
        let out = run_admin(&["migrate", "up"], &[(var, secret_arg)]);
        assert!(out.status.success(), "{var}: {}", stderr(&out));
        assert!(db_file.exists(), "{var} did not reach the database url");
    }

    let out = run_admin(&["config", "show"], &[("HERALD_DATABASE_URL_FILE", secret_arg)]);
    let shown = stdout(&out);
    assert!(!shown.contains("from-secret.db"), "secret leaked: {shown}");
    assert!(shown.contains("<redacted>"));

    assert_config_error(
        &[],
        &[("HERALD_DATABASE_URL_FILE", "/nonexistent/secret")],
        &["cannot read", "HERALD_DATABASE_URL_FILE"],
    );
    assert_config_error(
        &[],
        &[("HERALD_DATABASE_URL_FILE", secret_arg), ("HERALD_DATABASE_URL", "sqlite://x.db")],
        &["both"],
    );
    assert_config_error(&[], &[("HERALD_LOG_LEVEL_FILE", secret_arg)], &["not a secret key"]);
}

#[test]
fn schema_is_draft_2020_12_and_documents_every_key() {
    let out = run_admin(&["config", "schema"], &[]);
    let schema: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let markdown = stdout(&run_admin(&["config", "env", "--format", "markdown"], &[]));
    assert!(markdown.starts_with("| env var | key | type | default | description |"));
}

#[test]
fn readme_config_reference_matches_the_schema() {
    let markdown = stdout(&run_admin(&["config", "env", "--format", "markdown"], &[]));
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README.md");
    assert!(
        readme.contains(&markdown),
        "README's config reference is stale: paste the output of `herald-admin config env --format markdown`"
    );
}
