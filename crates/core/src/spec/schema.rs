//! The JSON shapes of Trakt's contract (a subset of OpenAPI 3.0's schema
//! objects, as `tools/trakt-contract` keeps them) and a validator that says
//! where a value departs from its shape.
//!
//! Alternatives (`oneOf` in the contract) are read as "any of": Trakt's own
//! alternatives overlap (ids by `trakt` or by `imdb`; both present is fine).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// One schema object. Every keyword is optional; an empty schema accepts anything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    #[serde(rename = "type")]
    /// The JSON type (`type`).
    pub kind: Option<Kind>,
    #[serde(rename = "enum")]
    /// The allowed values (`enum`).
    pub allowed: Option<Vec<Value>>,
    #[serde(default)]
    /// Whether null is allowed too.
    pub nullable: bool,
    /// A string format (`date-time`, …).
    pub format: Option<String>,
    /// The smallest number allowed.
    pub minimum: Option<f64>,
    /// The largest number allowed.
    pub maximum: Option<f64>,
    /// The shortest string allowed.
    pub min_length: Option<u64>,
    /// The longest string allowed.
    pub max_length: Option<u64>,
    /// The schema of an array's items.
    pub items: Option<Box<Schema>>,
    /// The fewest items allowed.
    pub min_items: Option<u64>,
    /// The most items allowed.
    pub max_items: Option<u64>,
    /// An object's properties by name.
    pub properties: Option<BTreeMap<String, Box<Schema>>>,
    #[serde(default)]
    /// The properties an object must have.
    pub required: Vec<String>,
    #[serde(default)]
    /// Schemas of which the value must match one at least.
    pub any_of: Vec<Schema>,
    #[serde(default)]
    /// Schemas the value must all match.
    pub all_of: Vec<Schema>,
    /// A schema stored once in the data's shared table.
    #[serde(rename = "$ref")]
    pub shared: Option<usize>,
}

/// The JSON type a schema names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A string.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Kind {
    /// The type as JSON Schema names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

/// How a value departs from its schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A required property is absent (or null where null is not allowed).
    Required {
        /// The property's name.
        name: String,
    },
    /// The value has another JSON type.
    Type {
        /// The type the schema names.
        expected: String,
        /// The type the value has.
        found: &'static str,
    },
    /// The value is not among the enumeration.
    Enum {
        /// The values allowed.
        allowed: Vec<String>,
    },
    /// A number, a string's length or an array's length is out of range.
    Range {
        /// The bound it crosses, in words (`at most 100`).
        bound: String,
    },
}

/// One departure, at a JSON pointer into the validated value.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Where, as a JSON pointer.
    pub pointer: String,
    /// What is wrong there.
    pub problem: Problem,
}

/// Property names that Trakt's contract marks as required on media objects
/// in request bodies, but that Trakt matches without: an item is found by its
/// `ids`, or by `title` and `year` when it has none (the hand-written body
/// rules check that an item is identified at all).
const MATCHED_ON_IDS: &[&str] = &["title", "year", "ids"];

/// Validates `value` against `schema`; `shared` resolves `$ref`s. The
/// violations come in document order; nesting is bounded by the data.
pub struct Validator<'s> {
    /// The shared schemas `$ref`s point at.
    pub shared: &'s SharedSchemas,
    /// Relax the contract's required `title`/`year`/`ids` on media objects
    /// (request bodies; responses keep them).
    pub request: bool,
    /// Follow at most this many items of each array (a page of 250 movies
    /// is judged by its first few), or all when `None`.
    pub sample: Option<usize>,
}

/// The contract's shared schemas (what `$ref`s point at), each read from the
/// embedded contract the first time one is needed: a proxy sees a few dozen
/// endpoints, and the whole table parsed up front held most of the
/// contract's memory.
#[derive(Debug, Default)]
pub struct SharedSchemas {
    raw: Vec<&'static serde_json::value::RawValue>,
    parsed: Vec<std::sync::OnceLock<Schema>>,
}

impl SharedSchemas {
    /// The shared schemas, each still unparsed.
    pub fn new(raw: Vec<&'static serde_json::value::RawValue>) -> Self {
        let parsed = raw.iter().map(|_| std::sync::OnceLock::new()).collect();
        SharedSchemas { raw, parsed }
    }

    /// Shared schema `i`; one that does not parse (a build problem, which a
    /// test guards) reads as the empty schema, which accepts anything.
    pub fn get(&self, i: usize) -> Option<&Schema> {
        let raw = self.raw.get(i)?;
        Some(
            self.parsed
                .get(i)?
                .get_or_init(|| parse_embedded(raw, format_args!("shared schema {i}"))),
        )
    }

    /// Whether every shared schema parses (for the test that guards the data).
    #[cfg(test)]
    pub(crate) fn all_parse(&self) -> Result<(), String> {
        for (i, raw) in self.raw.iter().enumerate() {
            serde_json::from_str::<Schema>(raw.get())
                .map_err(|e| format!("shared schema {i}: {e}"))?;
        }
        Ok(())
    }
}

/// A part of the embedded contract, parsed when first needed; one that does
/// not parse (a build problem, which a test guards) is logged and reads as
/// its default (the empty schema, no details): nothing is judged against it.
pub(crate) fn parse_embedded<T: serde::de::DeserializeOwned + Default>(
    raw: &serde_json::value::RawValue,
    what: std::fmt::Arguments<'_>,
) -> T {
    serde_json::from_str(raw.get()).unwrap_or_else(|e| {
        tracing::error!("{what} of the Trakt contract does not parse: {e}");
        T::default()
    })
}

/// How deep a value is followed: the contract's schemas are shallow, and a
/// hostile body must not make validation recurse without bound.
const MAX_DEPTH: usize = 32;

impl<'s> Validator<'s> {
    /// `schema`, or the shared schema its `$ref` points at.
    pub fn resolve<'a>(&self, schema: &'a Schema) -> &'a Schema
    where
        's: 'a,
    {
        let mut current = schema;
        // Shared schemas are never references themselves; bound it anyway.
        for _ in 0..4 {
            match current.shared.and_then(|i| self.shared.get(i)) {
                Some(next) => current = next,
                None => break,
            }
        }
        current
    }

    /// The violations of `schema` by `value`, in document order.
    pub fn validate(&self, value: &Value, schema: &Schema) -> Vec<Violation> {
        let mut out = Vec::new();
        // One pointer buffer for the whole walk: each member appends its
        // segment and takes it off again, so nothing is allocated per node.
        let mut at = String::with_capacity(64);
        self.walk(value, schema, &mut at, 0, &mut out);
        out
    }

    fn walk(
        &self,
        value: &Value,
        schema: &Schema,
        at: &mut String,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let depth = depth.saturating_add(1);
        let schema = self.resolve(schema);
        if value.is_null() {
            // null is fine where the schema says so, or says nothing of types.
            if !schema.nullable && (schema.kind.is_some() || !schema.any_of.is_empty()) {
                out.push(Violation {
                    pointer: at.to_string(),
                    problem: Problem::Type {
                        expected: expected(self, schema),
                        found: "null",
                    },
                });
            }
            return;
        }
        for part in &schema.all_of {
            self.walk(value, part, at, depth, out);
        }
        if !schema.any_of.is_empty() {
            self.alternatives(value, &schema.any_of, at, depth, out);
        }
        if let Some(kind) = schema.kind {
            if !fits(value, kind) {
                out.push(Violation {
                    pointer: at.to_string(),
                    problem: Problem::Type {
                        expected: kind.as_str().to_string(),
                        found: json_kind(value),
                    },
                });
                return;
            }
        }
        if let Some(allowed) = &schema.allowed {
            if !allowed.iter().any(|a| a == value) {
                out.push(Violation {
                    pointer: at.to_string(),
                    problem: Problem::Enum {
                        allowed: allowed.iter().map(show).collect(),
                    },
                });
                return;
            }
        }
        match value {
            Value::Number(n) => self.number(n.as_f64(), schema, at, out),
            Value::String(s) => {
                let len = u64::try_from(s.chars().count()).unwrap_or(u64::MAX);
                if let Some(bound) =
                    length_problem(len, schema.min_length, schema.max_length, "characters")
                {
                    out.push(Violation {
                        pointer: at.to_string(),
                        problem: Problem::Range { bound },
                    });
                }
            }
            Value::Array(items) => {
                let len = u64::try_from(items.len()).unwrap_or(u64::MAX);
                if let Some(bound) =
                    length_problem(len, schema.min_items, schema.max_items, "items")
                {
                    out.push(Violation {
                        pointer: at.to_string(),
                        problem: Problem::Range { bound },
                    });
                }
                if let Some(item_schema) = &schema.items {
                    let followed = self.sample.unwrap_or(items.len());
                    let own = at.len();
                    at.push('/');
                    let base = at.len();
                    for (i, item) in items.iter().enumerate().take(followed) {
                        at.truncate(base);
                        // Writing into the String allocates nothing new.
                        let _ = std::fmt::Write::write_fmt(at, format_args!("{i}"));
                        self.walk(item, item_schema, at, depth, out);
                    }
                    at.truncate(own);
                }
            }
            Value::Object(object) => self.object(object, schema, at, depth, out),
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn number(&self, n: Option<f64>, schema: &Schema, at: &str, out: &mut Vec<Violation>) {
        let Some(n) = n else { return };
        let low = schema
            .minimum
            .filter(|min| n < *min)
            .map(|min| format!("at least {}", plain(min)));
        let high = schema
            .maximum
            .filter(|max| n > *max)
            .map(|max| format!("at most {}", plain(max)));
        if let Some(bound) = low.or(high) {
            out.push(Violation {
                pointer: at.to_string(),
                problem: Problem::Range { bound },
            });
        }
    }

    fn object(
        &self,
        object: &Map<String, Value>,
        schema: &Schema,
        at: &mut String,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        let properties = schema.properties.as_ref();
        let media =
            self.request && properties.is_some_and(|p| p.contains_key("ids")) && !at.is_empty();
        for name in &schema.required {
            if media && MATCHED_ON_IDS.contains(&name.as_str()) {
                continue;
            }
            let absent = match object.get(name) {
                None => true,
                Some(Value::Null) => !properties
                    .and_then(|p| p.get(name))
                    .is_some_and(|p| self.resolve(p).nullable),
                Some(_) => false,
            };
            if absent {
                out.push(Violation {
                    pointer: format!("{at}/{}", escape(name)),
                    problem: Problem::Required { name: name.clone() },
                });
            }
        }
        let Some(properties) = properties else { return };
        let own = at.len();
        at.push('/');
        let base = at.len();
        for (name, value) in object {
            // Unknown keys are not the validator's business: Trakt ignores
            // them, and the typo rule names the close ones.
            if let Some(sub) = properties.get(name) {
                if value.is_null() && !schema.required.contains(name) {
                    continue; // An optional field sent as null is absent to Trakt.
                }
                at.truncate(base);
                push_escaped(at, name);
                self.walk(value, sub, at, depth, out);
            }
        }
        at.truncate(own);
    }

    /// Any alternative that fits is enough; otherwise the one that comes
    /// closest speaks for all (its violations, fewest first).
    fn alternatives(
        &self,
        value: &Value,
        alternatives: &[Schema],
        at: &mut String,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        let mut best: Option<Vec<Violation>> = None;
        for alternative in alternatives {
            let mut found = Vec::new();
            self.walk(value, alternative, at, depth, &mut found);
            if found.is_empty() {
                return;
            }
            let better = best.as_ref().is_none_or(|b| score(&found) < score(b));
            if better {
                best = Some(found);
            }
        }
        out.extend(best.unwrap_or_default());
    }
}

/// Ranks a failed alternative: a wrong type at the top means the value was
/// meant for another alternative altogether.
fn score(violations: &[Violation]) -> (usize, usize) {
    let top_type = violations
        .iter()
        .filter(|v| {
            matches!(v.problem, Problem::Type { .. }) && v.pointer.matches('/').count() <= 1
        })
        .count();
    (top_type, violations.len())
}

fn expected(validator: &Validator, schema: &Schema) -> String {
    if let Some(kind) = schema.kind {
        return kind.as_str().to_string();
    }
    let kinds: Vec<&str> = schema
        .any_of
        .iter()
        .filter_map(|a| validator.resolve(a).kind.map(Kind::as_str))
        .collect();
    if kinds.is_empty() {
        "a value".to_string()
    } else {
        kinds.join(" or ")
    }
}

fn fits(value: &Value, kind: Kind) -> bool {
    match (kind, value) {
        (Kind::String, Value::String(_))
        | (Kind::Number, Value::Number(_))
        | (Kind::Boolean, Value::Bool(_))
        | (Kind::Array, Value::Array(_))
        | (Kind::Object, Value::Object(_)) => true,
        // `1.0` is a whole number to Trakt's JSON parser too.
        (Kind::Integer, Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn length_problem(len: u64, min: Option<u64>, max: Option<u64>, unit: &str) -> Option<String> {
    if let Some(min) = min.filter(|m| len < *m) {
        return Some(format!("at least {min} {unit}"));
    }
    max.filter(|m| len > *m)
        .map(|max| format!("at most {max} {unit}"))
}

/// `1` rather than `1.0` for whole bounds.
fn plain(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

/// An enumeration value as a person reads it: strings without quotes.
pub fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Escapes a key for a JSON pointer (RFC 6901).
fn escape(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    push_escaped(&mut out, key);
    out
}

/// Appends `key` as a JSON Pointer segment (`~` as `~0`, `/` as `~1`).
fn push_escaped(out: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Schema {
        Schema::deserialize(v).expect("schema")
    }

    fn check(value: Value, s: Value, request: bool) -> Vec<Violation> {
        Validator {
            shared: &SharedSchemas::default(),
            request,
            sample: None,
        }
        .validate(&value, &schema(s))
    }

    #[test]
    fn types_enums_ranges_and_required_fields() {
        let s = json!({"type": "object", "required": ["progress"], "properties": {
            "progress": {"type": "number", "minimum": 0, "maximum": 100},
            "rating": {"type": "integer"},
            "type": {"type": "string", "enum": ["movie", "show"]}}});
        assert!(check(
            json!({"progress": 10.5, "rating": 7.0, "type": "show"}),
            s.clone(),
            true
        )
        .is_empty());
        let v = check(
            json!({"progress": "10", "rating": 7.5, "type": "film"}),
            s.clone(),
            true,
        );
        let problems: Vec<_> = v.iter().map(|v| v.pointer.as_str()).collect();
        assert_eq!(problems, ["/progress", "/rating", "/type"]);
        assert_eq!(
            check(json!({"progress": 120}), s.clone(), true)[0].problem,
            Problem::Range {
                bound: "at most 100".into()
            }
        );
        assert_eq!(
            check(json!({}), s, true)[0],
            Violation {
                pointer: "/progress".into(),
                problem: Problem::Required {
                    name: "progress".into()
                }
            }
        );
    }

    #[test]
    fn alternatives_accept_any_fit_and_report_the_closest() {
        let s = json!({"anyOf": [
            {"type": "object", "required": ["trakt"], "properties": {"trakt": {"type": "integer"}}},
            {"type": "object", "required": ["imdb"], "properties": {"imdb": {"type": "string"}}}]});
        assert!(check(json!({"trakt": 1, "imdb": "tt1"}), s.clone(), false).is_empty());
        assert!(check(json!({"imdb": "tt1"}), s.clone(), false).is_empty());
        let v = check(json!({"imdb": 5}), s, false);
        assert_eq!(v.len(), 1, "{v:?}");
    }

    #[test]
    fn media_objects_in_requests_are_matched_on_ids() {
        let s = json!({"type": "object", "properties": {"movie": {"type": "object",
            "required": ["title", "year", "ids"], "properties": {"title": {"type": "string"},
            "year": {"type": "integer"}, "ids": {"type": "object"}}}}});
        assert!(check(json!({"movie": {"ids": {"imdb": "tt1"}}}), s.clone(), true).is_empty());
        assert_eq!(check(json!({"movie": {"ids": {}}}), s, false).len(), 2);
    }

    #[test]
    fn null_is_absent_for_optional_fields_and_deep_values_are_bounded() {
        let s = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        assert!(check(json!({"a": null}), s, true).is_empty());
        let mut deep = json!(1);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        let nested = json!({"type": "array", "items": {"type": "array"}});
        assert!(check(deep, nested, true).len() <= 1);
    }
}
