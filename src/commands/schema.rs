//! `mailinfra schema`: the blueprint's JSON Schema, for editors (yaml-language-server) and
//! other tools. Generated from the types the loader takes its fields from.

use super::{Failure, Outcome};
use crate::blueprint::schema;
use crate::output::Output;

pub fn run(out: &Output) -> Outcome {
    let json = serde_json::to_string_pretty(&schema::json_schema())
        .map_err(|e| Failure::Refused(e.to_string()))?;
    out.data(&format!("{json}\n"));
    Ok(0)
}
