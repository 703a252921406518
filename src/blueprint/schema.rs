//! The JSON Schema of the blueprint, for editors (yaml-language-server) and other tools:
//! generated from the same types the loader reads, so the two cannot drift apart.

use super::Blueprint;

/// The JSON Schema of the blueprint.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Blueprint)).unwrap_or_default()
}
