//! Event type schemas enforced on publish: an event type with `enforceSchema` accepts only
//! messages whose payload matches its newest schema. The schemas are the tenant's, so compiling
//! them must not reach out or run away: no remote or file `$ref` is fetched (the features that
//! would are not built), and `pattern` uses the `regex` engine, whose matching time is linear in
//! the input (no backtracking), with a bound on each compiled pattern's size.

use crate::db::json_text::Schemas;
use serde_json::Value;

/// Most bytes one compiled `pattern` may take.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Why an event type's schemas cannot be enforced.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// There is no schema to enforce.
    #[error("enforcing needs a schema: give at least one version in schemas")]
    Missing,
    /// The newest version is not a JSON Schema Herald can compile.
    #[error("version {version} is not a usable JSON Schema: {reason}")]
    Unusable {
        /// The version's key.
        version: String,
        /// What the compiler said.
        reason: String,
    },
}

/// One way a payload breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where in the payload, as path segments (empty for the payload itself).
    pub path: Vec<String>,
    /// What is wrong there.
    pub message: String,
}

/// An event type's newest schema, compiled.
pub struct PayloadSchema {
    /// The version enforced.
    pub version: String,
    validator: jsonschema::Validator,
}

impl PayloadSchema {
    /// The newest of `schemas`: versions are numbered ("1", "2", …) and the highest wins; keys that
    /// are not numbers sort after every number, by name.
    pub fn newest(schemas: &Schemas) -> Result<PayloadSchema, SchemaError> {
        let (version, schema) =
            schemas.iter().max_by(|(a, _), (b, _)| rank(a).cmp(&rank(b))).ok_or(SchemaError::Missing)?;
        let unusable = |reason: String| SchemaError::Unusable { version: version.clone(), reason };
        let document = Value::Object(schema.clone());
        // Building checks the schema against its meta-schema too.
        let validator = jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex().size_limit(PATTERN_SIZE_LIMIT))
            .build(&document)
            .map_err(|e| unusable(e.to_string()))?;
        Ok(PayloadSchema { version: version.clone(), validator })
    }

    /// How `payload` breaks the schema, at most `max` ways (none when it matches).
    pub fn violations(&self, payload: &Value, max: usize) -> Vec<Violation> {
        self.validator
            .iter_errors(payload)
            .take(max)
            .map(|error| Violation {
                path: error
                    .instance_path()
                    .as_str()
                    .split('/')
                    .skip(1)
                    .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
                    .collect(),
                message: error.to_string(),
            })
            .collect()
    }
}

/// The schema each event type enforces, looked up once a second per event type: enforcement
/// switched on or off through another process takes effect within [`SCHEMA_TTL`]. Keyed by
/// [`schema_key`].
pub type SchemaCache = crate::ttl_cache::TtlCache<Option<std::sync::Arc<PayloadSchema>>>;

/// How long a looked-up event type's schema is used without asking the database again.
pub const SCHEMA_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// A schema cache for one process.
pub fn schema_cache() -> SchemaCache {
    // Past this many distinct event types (a flood of made-up names), the cache starts over.
    SchemaCache::new(SCHEMA_TTL, 10_000)
}

/// The cache key of the organisation's event type `name`.
pub fn schema_key(org: &str, name: &str) -> String {
    format!("{org}\u{0}{name}")
}

/// Orders versions: numbers by value, then anything else by name.
fn rank(version: &str) -> (u8, u64, &str) {
    match version.parse::<u64>() {
        Ok(n) => (0, n, ""),
        Err(_) => (1, 0, version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas(value: Value) -> Schemas {
        serde_json::from_value(value).expect("schemas")
    }

    #[test]
    fn the_highest_version_is_enforced() {
        let all = schemas(json!({
            "2": {"type": "object", "required": ["b"]},
            "10": {"type": "object", "required": ["c"]},
            "1": {"type": "object", "required": ["a"]},
        }));
        let schema = PayloadSchema::newest(&all).expect("compiles");
        assert_eq!(schema.version, "10");
        assert!(schema.violations(&json!({"c": 1}), 10).is_empty());
        assert_eq!(schema.violations(&json!({"a": 1}), 10).len(), 1);
    }

    #[test]
    fn a_violation_names_where_it_is() {
        let all = schemas(json!({"1": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": {"properties": {"a/b": {"type": "integer"}}}}},
        }}));
        let schema = PayloadSchema::newest(&all).expect("compiles");
        let found = schema.violations(&json!({"items": [{"a/b": 1}, {"a/b": "x"}]}), 10);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, ["items", "1", "a/b"]);
        assert!(found[0].message.contains("integer"), "{}", found[0].message);
    }

    #[test]
    fn no_schema_or_a_broken_one_cannot_be_enforced() {
        assert!(matches!(PayloadSchema::newest(&Schemas::new()), Err(SchemaError::Missing)));
        let broken = schemas(json!({"1": {"type": "no-such-type"}}));
        assert!(matches!(PayloadSchema::newest(&broken), Err(SchemaError::Unusable { .. })));
    }

    #[test]
    fn remote_references_are_not_fetched() {
        let remote = schemas(json!({"1": {"$ref": "http://169.254.169.254/latest/meta-data"}}));
        assert!(matches!(PayloadSchema::newest(&remote), Err(SchemaError::Unusable { .. })));
    }
}
