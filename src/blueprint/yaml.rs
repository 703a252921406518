//! A YAML document as a tree of nodes that remember where they stand in the source.
//!
//! serde-based loaders stop at the first error; the blueprint loader must report every
//! problem at once, so it walks this tree instead. Built from `saphyr-parser`'s spanned
//! event stream (YAML 1.2). Aliases are expanded; tags are refused. Pure: no I/O.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::diagnostics::{Diagnostic, Pos};

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null`, or nothing at all.
    Null,
    /// A scalar with its text and whether it was written plain (unquoted).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Key/value pairs in source order; duplicate keys are kept so the loader can report them.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What kind of node this is, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "nothing (null)",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

fn pos_of(span: Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

/// Parses one YAML document. A syntax error is a single diagnostic (the parser cannot go on).
pub fn parse(source: &str) -> Result<Node, Diagnostic> {
    let mut builder = Builder::default();
    for item in Parser::new_from_str(source) {
        let (event, span) = item.map_err(|e| {
            let m = e.marker();
            Diagnostic::new(
                Some(Pos {
                    line: m.line(),
                    col: m.col() + 1,
                }),
                "",
                format!("YAML syntax error: {}", e.info()),
            )
            .hint("check the indentation and quoting around this position")
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.root.unwrap_or(Node {
        value: Value::Null,
        pos: Pos { line: 1, col: 1 },
    }))
}

enum Open {
    Seq(Node, usize),
    Map(Node, usize, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        let pos = pos_of(span);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Diagnostic::new(
                        Some(pos),
                        "",
                        "a blueprint file holds one YAML document, found a second",
                    )
                    .hint("put each blueprint in a file of its own"));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                if tag.is_some() {
                    return Err(
                        Diagnostic::new(Some(pos), "", "YAML tags are not supported")
                            .hint("remove the `!tag` and write the plain value"),
                    );
                }
                let plain = style == ScalarStyle::Plain;
                let value = if plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Value::Null
                } else {
                    Value::Scalar {
                        text: text.into_owned(),
                        plain,
                    }
                };
                self.finish(Node { value, pos }, anchor);
            }
            Event::Alias(id) => {
                let node =
                    self.anchors.get(&id).cloned().ok_or_else(|| {
                        Diagnostic::new(Some(pos), "", "alias to an unknown anchor")
                    })?;
                self.finish(Node { pos, ..node }, 0);
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag)
                if tag.is_some() =>
            {
                let _ = anchor;
                return Err(
                    Diagnostic::new(Some(pos), "", "YAML tags are not supported")
                        .hint("remove the `!tag`"),
                );
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq(
                Node {
                    value: Value::Seq(Vec::new()),
                    pos,
                },
                anchor,
            )),
            Event::MappingStart(anchor, _) => self.stack.push(Open::Map(
                Node {
                    value: Value::Map(Vec::new()),
                    pos,
                },
                anchor,
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq(n, a)) | Some(Open::Map(n, a, _)) => (n, a),
                    None => return Ok(()),
                };
                self.finish(node, anchor);
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(parent, _)) => {
                if let Value::Seq(items) = &mut parent.value {
                    items.push(node);
                }
            }
            Some(Open::Map(parent, _, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Value::Map(pairs) = &mut parent.value {
                        pairs.push((key, node));
                    }
                }
            },
        }
    }
}

impl Node {
    /// The node as JSON, reading plain scalars the YAML 1.2 core-schema way (`true`/`false`,
    /// integers, null); everything else is a string. For checking documents against the schema.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Scalar { text, plain } => {
                if *plain {
                    match text.as_str() {
                        "true" => return J::Bool(true),
                        "false" => return J::Bool(false),
                        _ => {}
                    }
                    if let Ok(n) = text.parse::<i64>() {
                        return J::from(n);
                    }
                }
                J::String(text.clone())
            }
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(pairs) => J::Object(
                pairs
                    .iter()
                    .map(|(k, v)| {
                        let key = match &k.value {
                            Value::Scalar { text, .. } => text.clone(),
                            _ => String::new(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let node = parse("a: 1\nbb:\n  - x\n").unwrap();
        let Value::Map(pairs) = node.value else {
            panic!("not a map")
        };
        assert_eq!(pairs[1].0.pos, Pos { line: 2, col: 1 });
        let Value::Seq(items) = &pairs[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(items[0].pos, Pos { line: 3, col: 5 });
    }

    #[test]
    fn quoted_and_plain_scalars_are_told_apart() {
        let node = parse("a: yes\nb: 'yes'\nc: ~\n").unwrap();
        let Value::Map(pairs) = node.value else {
            panic!()
        };
        assert_eq!(
            pairs[0].1.value,
            Value::Scalar {
                text: "yes".into(),
                plain: true
            }
        );
        assert_eq!(
            pairs[1].1.value,
            Value::Scalar {
                text: "yes".into(),
                plain: false
            }
        );
        assert_eq!(pairs[2].1.value, Value::Null);
    }

    #[test]
    fn aliases_expand_to_the_anchored_node() {
        let node = parse("a: &x [1, 2]\nb: *x\n").unwrap();
        let Value::Map(pairs) = node.value else {
            panic!()
        };
        assert_eq!(pairs[0].1.value, pairs[1].1.value);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.is_some());
        assert!(err.message.contains("YAML syntax error"), "{}", err.message);
    }
}
