//! Validation of the merged document against the JSON Schema, with each problem tied to the key
//! and the origin of its value.

use super::origin::Origins;
use super::schema::{get_path, schema};
use super::{ConfigProblem, Process};
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use std::sync::OnceLock;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        // The schema is compiled in and tested, so failing here is a build defect.
        jsonschema::draft202012::new(&schema().document).expect("embedded schema compiles")
    })
}

/// Turns a JSON pointer such as `/serve/port` into the dotted key `serve.port`.
fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').split('/').collect::<Vec<_>>().join(".")
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() { child.to_owned() } else { format!("{parent}.{child}") }
}

/// Every problem with `document`, each naming its key and origin.
pub fn check(document: &Value, origins: &Origins) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for error in validator().iter_errors(document) {
        let at = dotted(error.instance_path().as_str());
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    let key = join(&at, name);
                    problems.push(ConfigProblem {
                        origin: origins.of(&key),
                        message: "unknown key (see `herald-admin config env` for the list)".into(),
                        key,
                    });
                }
            }
            ValidationErrorKind::Enum { options } => {
                let choices: Vec<String> =
                    options.as_array().map(|a| a.iter().map(Value::to_string).collect()).unwrap_or_default();
                let given = get_path(document, &at).map(Value::to_string).unwrap_or_default();
                problems.push(ConfigProblem {
                    origin: origins.of(&at),
                    message: format!("{given} is not one of {}", choices.join(", ")),
                    key: at,
                });
            }
            kind if is_secret(&at) => problems.push(ConfigProblem {
                origin: origins.of(&at),
                message: format!("the value (not shown: it is secret) breaks the schema's {:?} rule", kind.keyword()),
                key: at,
            }),
            _ => {
                let mut message = error.to_string();
                if let Some(hint) = hint(&at, document) {
                    message.push_str(hint);
                }
                problems.push(ConfigProblem { origin: origins.of(&at), message, key: at });
            }
        }
    }
    if problems.is_empty() {
        problems.extend(check_networks(document, origins));
        problems.extend(check_proxy(document, origins));
        problems.extend(check_tls(document, origins));
        problems.extend(check_connection_tls(document, origins));
        problems.extend(check_keys(document, origins));
    }
    problems
}

/// What a process needs beyond a valid document: web and worker handle endpoint secrets, so they
/// need an encryption key.
pub fn requirements(process: Process, document: &Value, origins: &Origins) -> Vec<ConfigProblem> {
    let key = "secrets.keys";
    let empty = get_path(document, key).and_then(Value::as_array).is_none_or(|keys| keys.is_empty());
    if process == Process::Admin || !empty {
        return Vec::new();
    }
    vec![ConfigProblem {
        key: key.into(),
        origin: origins.of(key),
        message:
            "at least one encryption key is required: set HERALD_SECRETS_KEYS='[\"<base64 of 32 random bytes>\"]' \
            (e.g. from `openssl rand -base64 32`), or HERALD_SECRETS_KEYS_FILE"
                .into(),
    }]
}

/// Each encryption key must decode to 32 bytes. The value itself is never echoed.
fn check_keys(document: &Value, origins: &Origins) -> Vec<ConfigProblem> {
    let key = "secrets.keys";
    let Some(Value::Array(items)) = get_path(document, key) else { return Vec::new() };
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.as_str().and_then(crate::crypto::decode_key).is_none())
        .map(|(index, _)| ConfigProblem {
            key: key.into(),
            origin: origins.of(key),
            message: format!("entry {index} is not a base64-encoded 32-byte key"),
        })
        .collect()
}

/// Whether `key` is, or lies inside, a secret key.
fn is_secret(key: &str) -> bool {
    schema().leaves.iter().any(|l| {
        l.secret
            && (key == l.path || key.starts_with(&format!("{}.", l.path)) || l.path.starts_with(&format!("{key}.")))
    })
}

/// A hint for the mistakes people make most: a list given without JSON brackets.
fn hint(key: &str, document: &Value) -> Option<&'static str> {
    let leaf = schema().leaf(key)?;
    let given_text = get_path(document, key).is_some_and(Value::is_string);
    (given_text && matches!(leaf.kind.name(), "array" | "object"))
        .then_some(" (in env vars and flags, arrays and objects are written as JSON, e.g. [\"10.0.0.0/8\"])")
}

/// `serve.tls.cert` and `serve.tls.key` go together, and what they name must load.
fn check_tls(document: &Value, origins: &Origins) -> Vec<ConfigProblem> {
    let text = |key| get_path(document, key).and_then(Value::as_str).unwrap_or_default();
    let (cert, key) = (text("serve.tls.cert"), text("serve.tls.key"));
    let problem = |at: &str, message: String| ConfigProblem { key: at.into(), origin: origins.of(at), message };
    match (cert.is_empty(), key.is_empty()) {
        (true, true) => Vec::new(),
        (false, true) => vec![problem("serve.tls.key", "is required when serve.tls.cert is set".into())],
        (true, false) => vec![problem("serve.tls.cert", "is required when serve.tls.key is set".into())],
        (false, false) => match crate::http::tls::load(cert, key) {
            Ok(_) => Vec::new(),
            Err((at, error)) => vec![problem(at, crate::error::chain(&error))],
        },
    }
}

/// The TLS parameters of the database and broker URLs, and the files they name: a mistake is
/// found at start-up, naming the parameter (never the URL, which may hold a password).
fn check_connection_tls(document: &Value, origins: &Origins) -> Vec<ConfigProblem> {
    use crate::db::{Backend, backend_of, mysql_tls, pg_tls};
    let text = |key| get_path(document, key).and_then(Value::as_str).unwrap_or_default();
    let (database, queue) = (text("database.url"), text("queue.url"));
    let database_tls = match backend_of(database) {
        Ok(Backend::Postgres) => pg_tls::target(database).map(|t| t.tls).map_err(|e| e.to_string()),
        Ok(Backend::Mysql) => match mysql_tls::target(database) {
            Ok(target) => match target.tls.as_ref().map(mysql_tls::check_files) {
                Some(Err(message)) => Err(message),
                _ => Ok(target.tls),
            },
            Err(e) => Err(e.to_string()),
        },
        _ => Ok(None),
    };
    let queue_tls = match queue {
        "" => Ok(None),
        url => crate::queue::connect::target(url).map(|t| t.tls).map_err(|e| e.to_string()),
    };
    [("database.url", database_tls), ("queue.url", queue_tls)]
        .into_iter()
        .filter_map(|(key, tls)| {
            let message = match tls {
                Err(message) => message,
                Ok(Some(tls)) => tls.check().err().map(|e| crate::error::chain(&e))?,
                Ok(None) => return None,
            };
            Some(ConfigProblem { key: key.into(), origin: origins.of(key), message })
        })
        .collect()
}

/// CIDRs pass the schema's pattern only roughly; parse them for real.
fn check_networks(document: &Value, origins: &Origins) -> Vec<ConfigProblem> {
    let key = "delivery.allowed_cidrs";
    let Some(Value::Array(items)) = get_path(document, key) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(Value::as_str)
        .filter(|text| text.parse::<ipnet::IpNet>().is_err())
        .map(|text| ConfigProblem {
            key: key.into(),
            origin: origins.of(key),
            message: format!("{text:?} is not a network in CIDR notation (like 127.0.0.0/8 or ::1/128)"),
        })
        .collect()
}

/// The proxy URL passes the schema's pattern only roughly; parse it for real (saying what is
/// wrong without showing it: it may hold a password).
fn check_proxy(document: &Value, origins: &Origins) -> Vec<ConfigProblem> {
    let key = "delivery.proxy";
    let text = get_path(document, key).and_then(Value::as_str).unwrap_or_default();
    if text.is_empty() {
        return Vec::new();
    }
    let wrong = match url::Url::parse(text) {
        Err(e) => Some(format!("is not a URL ({e})")),
        Ok(url) if url.host_str().is_none_or(str::is_empty) => Some("names no host".to_owned()),
        Ok(url) if url.port_or_known_default().is_none() => Some("needs a port (socks5 has no default)".to_owned()),
        Ok(_) => None,
    };
    wrong
        .map(|message| ConfigProblem {
            key: key.into(),
            origin: origins.of(key),
            message: format!("the proxy URL {message}"),
        })
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::origin::Origin;
    use crate::config::schema::set_path;

    fn problems_for(path: &str, value: Value) -> Vec<ConfigProblem> {
        let mut doc = schema().defaults();
        set_path(&mut doc, path, value);
        let mut origins = Origins::default();
        origins.record(path, Origin::Env("X".into()));
        check(&doc, &origins)
    }

    #[test]
    fn defaults_pass() {
        assert!(check(&schema().defaults(), &Origins::default()).is_empty());
    }

    #[test]
    fn each_kind_of_error_names_key_and_origin() {
        let cases = [
            ("serve.port", Value::from("abc"), "integer"),
            ("serve.port", Value::from(70000), "70000"),
            ("log.level", Value::from("loud"), "loud"),
            ("database.url", Value::from("redis://x"), "\"pattern\" rule"),
            ("secrets.keys", serde_json::json!(["tooshort"]), "32-byte"),
            ("secrets.keys", Value::from("tooshort"), "not shown"),
            ("serve.shutdown.timeout", Value::from("soon"), "does not match"),
            ("delivery.allowed_cidrs", Value::from("10.0.0.0/8"), "JSON"),
            ("delivery.allowed_cidrs", serde_json::json!(["300.1.1.1/8"]), "CIDR"),
            ("delivery.proxy", Value::from("socks5://user:hunter2@proxy.internal"), "needs a port"),
            ("delivery.proxy", Value::from("ftp://proxy.internal:21"), "not shown"),
            ("serve.bogus", Value::from(1), "unknown key"),
            ("database.url", Value::from("postgres://u:hunter2@h/db?sslmode=verify"), "sslmode=\"verify\""),
            (
                "database.url",
                Value::from("postgres://u:hunter2@h/db?sslmode=verify-ca&sslrootcert=/no/ca.pem"),
                "/no/ca.pem",
            ),
            ("database.url", Value::from("mysql://u:hunter2@h/db?ssl-mode=VERIFY_IDENTITY&ssl-cert=/c.pem"), "ssl-key"),
            ("queue.url", Value::from("amqp://u:hunter2@h/?cacertfile=/ca.pem"), "amqps://"),
            ("queue.url", Value::from("amqps://u:hunter2@h/?cacertfile=/no/ca.pem"), "/no/ca.pem"),
        ];
        for (path, value, expected) in cases {
            let problems = problems_for(path, value.clone());
            assert_eq!(problems.len(), 1, "{path}={value}: {problems:?}");
            assert_eq!(problems[0].key, path);
            assert_eq!(problems[0].origin, Origin::Env("X".into()));
            assert!(problems[0].message.contains(expected), "{path}: {}", problems[0].message);
            let echoed = ["tooshort", "hunter2"].iter().any(|s| problems[0].message.contains(s));
            assert!(!echoed, "a secret was echoed: {}", problems[0].message);
        }
    }
}
