//! The JSON Schema that defines every config key, and what Herald derives from it: the list of
//! keys, their types and defaults, which are secret, which need a restart, and their env names.

use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The schema text, shipped inside every binary.
pub const SCHEMA_TEXT: &str = include_str!("schema.json");

/// Prefix of every environment variable that sets a config key.
pub const ENV_PREFIX: &str = "HERALD_";

/// The JSON type of a leaf key, which decides how a string from env or a flag is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafType {
    /// Taken as it is.
    String,
    /// Parsed as a whole number.
    Integer,
    /// Parsed as a number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// JSON text.
    Array,
    /// JSON text.
    Object,
}

impl LeafType {
    fn from_schema(name: &str) -> Self {
        match name {
            "integer" => Self::Integer,
            "number" => Self::Number,
            "boolean" => Self::Boolean,
            "array" => Self::Array,
            "object" => Self::Object,
            _ => Self::String,
        }
    }

    /// The name used in the schema and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Array => "array",
            Self::Object => "object",
        }
    }
}

/// One settable key of the configuration (a schema property that is not an object of keys).
#[derive(Debug, Clone)]
pub struct Leaf {
    /// Dotted path, e.g. `serve.shutdown.timeout`.
    pub path: String,
    /// The JSON type expected.
    pub kind: LeafType,
    /// The default value.
    pub default: Value,
    /// The description from the schema.
    pub description: String,
    /// Redacted when shown; also readable from `<ENV_NAME>_FILE`.
    pub secret: bool,
    /// Changing it takes effect only after a restart.
    pub restart: bool,
    /// The name of the shared definition it uses (e.g. `duration`), if any.
    pub definition: Option<String>,
    /// The allowed values, when the schema lists them.
    pub choices: Vec<String>,
}

impl Leaf {
    /// The environment variable that sets this key: `a.b_c` is `HERALD_A_B_C`.
    pub fn env_name(&self) -> String {
        format!("{ENV_PREFIX}{}", self.path.replace('.', "_").to_uppercase())
    }
}

/// The parsed schema and the keys it defines.
#[derive(Debug)]
pub struct Schema {
    /// The schema document itself.
    pub document: Value,
    /// Every settable key, in schema order.
    pub leaves: Vec<Leaf>,
}

/// The schema, parsed once per process.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // The text is compiled in and covered by tests, so a parse failure is a build defect.
        let document: Value = serde_json::from_str(SCHEMA_TEXT).expect("embedded schema is JSON");
        let mut leaves = Vec::new();
        collect_leaves(&document, &document, "", &mut leaves);
        Schema { document, leaves }
    })
}

impl Schema {
    /// The key at `path`, if the schema defines one.
    pub fn leaf(&self, path: &str) -> Option<&Leaf> {
        self.leaves.iter().find(|l| l.path == path)
    }

    /// The key whose env variable is `name`, if any.
    pub fn leaf_for_env(&self, name: &str) -> Option<&Leaf> {
        self.leaves.iter().find(|l| l.env_name() == name)
    }

    /// The document holding every default value.
    pub fn defaults(&self) -> Value {
        let mut doc = Value::Object(Map::new());
        for leaf in &self.leaves {
            set_path(&mut doc, &leaf.path, leaf.default.clone());
        }
        doc
    }
}

/// Follows a local `$ref` and merges the referenced node under the referring one, so a key's
/// own description and default win over the shared definition's.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> Map<String, Value> {
    let mut merged = Map::new();
    if let Some(pointer) = node.get("$ref").and_then(Value::as_str)
        && let Some(target) = pointer.strip_prefix('#').and_then(|p| root.pointer(p))
        && let Some(fields) = target.as_object()
    {
        merged.extend(fields.clone());
    }
    if let Some(fields) = node.as_object() {
        merged.extend(fields.clone());
    }
    merged
}

fn collect_leaves(root: &Value, node: &Value, prefix: &str, out: &mut Vec<Leaf>) {
    let Some(properties) = node.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, child) in properties {
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        let fields = resolve(root, child);
        if fields.contains_key("properties") {
            collect_leaves(root, child, &path, out);
            continue;
        }
        let flag = |key: &str| fields.get(key).and_then(Value::as_bool).unwrap_or(false);
        out.push(Leaf {
            kind: LeafType::from_schema(fields.get("type").and_then(Value::as_str).unwrap_or("string")),
            default: fields.get("default").cloned().unwrap_or(Value::Null),
            description: fields.get("description").and_then(Value::as_str).unwrap_or("").to_owned(),
            secret: flag("x-secret"),
            definition: child.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()).map(str::to_owned),
            choices: fields
                .get("enum")
                .and_then(Value::as_array)
                .map(|values| values.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default(),
            restart: flag("x-restart"),
            path,
        });
    }
}

/// Sets `value` at a dotted path, creating objects on the way (and replacing non-objects).
pub fn set_path(doc: &mut Value, path: &str, value: Value) {
    let mut node = doc;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { unreachable!("made an object above") };
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        node = map.entry(part.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    }
}

/// The value at a dotted path, if present.
pub fn get_path<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |node, part| node.get(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_key_has_type_description_and_default() {
        for leaf in &schema().leaves {
            assert!(!leaf.description.is_empty(), "{} has no description", leaf.path);
            assert!(!leaf.default.is_null(), "{} has no default", leaf.path);
        }
    }

    #[test]
    fn env_names_are_unambiguous() {
        let mut names = HashSet::new();
        for leaf in &schema().leaves {
            assert!(names.insert(leaf.env_name()), "two keys map to {}", leaf.env_name());
        }
        for leaf in schema().leaves.iter().filter(|l| l.secret) {
            let file = format!("{}_FILE", leaf.env_name());
            assert!(!names.contains(&file), "{file} is both a key and a _FILE variant");
        }
    }

    #[test]
    fn fixed_key_names_exist_with_their_defaults() {
        let s = schema();
        let default = |p: &str| s.leaf(p).unwrap_or_else(|| panic!("missing {p}")).default.clone();
        assert_eq!(default("serve.port"), 8071);
        assert_eq!(default("worker.port"), 8072);
        assert_eq!(default("database.url"), "sqlite://herald.db");
        assert_eq!(default("queue.url"), "");
        assert_eq!(default("log.level"), "info");
        assert_eq!(default("log.format"), "json");
        assert_eq!(default("delivery.allowed_cidrs"), serde_json::json!([]));
        assert!(s.leaf("serve.host").is_some());
    }

    #[test]
    fn set_and_get_path_round_trip() {
        let mut doc = Value::Null;
        set_path(&mut doc, "a.b.c", Value::from(1));
        set_path(&mut doc, "a.d", Value::from("x"));
        assert_eq!(get_path(&doc, "a.b.c"), Some(&Value::from(1)));
        assert_eq!(get_path(&doc, "a.d"), Some(&Value::from("x")));
        assert_eq!(get_path(&doc, "a.z"), None);
    }
}
