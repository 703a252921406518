//! Problems found in a blueprint, each with its position, its path in the document,
//! what is wrong and how to fix it; and their rendering with a source snippet.
//! Pure: no I/O.

use std::fmt::Write as _;

use serde::Serialize;

/// A 1-based line and column (in characters) in the blueprint file; `0:0` while unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub(crate) fn of(at: serde_saphyr::Location) -> Pos {
        Pos {
            line: usize::try_from(at.line()).unwrap_or(usize::MAX),
            col: usize::try_from(at.column()).unwrap_or(usize::MAX),
        }
    }

    pub(crate) fn is_known(self) -> bool {
        self.line > 0
    }
}

/// One problem in a blueprint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub pos: Option<Pos>,
    /// Where in the document, e.g. `domains[0].dmarc.policy`; empty for the document itself.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(pos: Option<Pos>, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pos,
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every problem found in one blueprint file.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub file: String,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Renders every diagnostic as `error: FILE:LINE:COL: PATH: MESSAGE`, the source line with a
    /// caret under the column, and the hint; then a count.
    pub fn render(&self) -> String {
        let lines: Vec<&str> = self.source.lines().collect();
        let mut out = String::new();
        for d in &self.diagnostics {
            let location = match d.pos {
                Some(p) => format!("{}:{}:{}", self.file, p.line, p.col),
                None => self.file.clone(),
            };
            let path = if d.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", d.path)
            };
            let _ = writeln!(out, "error: {location}: {path}{}", d.message);
            if let Some(p) = d.pos
                && let Some(text) = lines.get(p.line.saturating_sub(1))
            {
                let gutter = p.line.to_string().len();
                let _ = writeln!(out, "{:gutter$} |", "");
                let _ = writeln!(out, "{} | {}", p.line, text);
                let _ = writeln!(out, "{:gutter$} | {:>col$}", "", "^", col = p.col);
            }
            if let Some(h) = &d.hint {
                let _ = writeln!(out, "  = hint: {h}");
            }
        }
        let n = self.diagnostics.len();
        let _ = writeln!(
            out,
            "{} problem{} in {}; nothing was sent to AWS",
            n,
            if n == 1 { "" } else { "s" },
            self.file
        );
        out
    }
}

impl Report {
    /// The report as data: `{ "file", "valid", "problems": [{ "line", "col", "path",
    /// "message", "hint" }] }` (`line`/`col` null where the position is unknown).
    pub fn json(&self) -> serde_json::Value {
        let problems: Vec<serde_json::Value> = self
            .diagnostics
            .iter()
            .map(|d| {
                serde_json::json!({
                    "line": d.pos.map(|p| p.line),
                    "col": d.pos.map(|p| p.col),
                    "path": d.path,
                    "message": d.message,
                    "hint": d.hint,
                })
            })
            .collect();
        serde_json::json!({ "file": self.file, "valid": problems.is_empty(), "problems": problems })
    }

    /// One GitHub Actions workflow command per problem (`::error file=…,line=…,col=…::…`),
    /// which the pull request shows on the blueprint's line.
    pub fn github(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            let mut props = format!("file={}", property(&self.file));
            if let Some(p) = d.pos {
                let _ = write!(props, ",line={},col={}", p.line, p.col);
            }
            let title = if d.path.is_empty() {
                "mailinfra".to_owned()
            } else {
                format!("mailinfra: {}", d.path)
            };
            let _ = write!(props, ",title={}", property(&title));
            let text = match &d.hint {
                Some(h) => format!("{}\nhint: {h}", d.message),
                None => d.message.clone(),
            };
            let _ = writeln!(out, "::error {props}::{}", data(&text));
        }
        out
    }
}

/// A workflow command's message, escaped as the GitHub Actions runner reads it.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,` escaped.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_annotations_are_escaped_and_point_at_the_line() {
        let report = Report {
            file: "mail,1.yaml".into(),
            source: String::new(),
            diagnostics: vec![
                Diagnostic::new(Some(Pos { line: 2, col: 9 }), "region", "100% wrong: `x`")
                    .hint("did you mean `eu-west-1`?"),
            ],
        };
        assert_eq!(
            report.github(),
            "::error file=mail%2C1.yaml,line=2,col=9,title=mailinfra%3A region::100%25 wrong: `x`%0Ahint: did you mean `eu-west-1`?\n"
        );
        let json = report.json();
        assert_eq!(json["valid"], false);
        assert_eq!(json["problems"][0]["line"], 2);
        assert_eq!(json["problems"][0]["hint"], "did you mean `eu-west-1`?");
    }

    #[test]
    fn render_points_at_the_column() {
        let report = Report {
            file: "b.yaml".into(),
            source: "a: 1\n  tll: 3\n".into(),
            diagnostics: vec![
                Diagnostic::new(Some(Pos { line: 2, col: 3 }), "x", "unknown field `tll`")
                    .hint("did you mean `ttl`?"),
            ],
        };
        let text = report.render();
        assert_eq!(
            text,
            "error: b.yaml:2:3: x: unknown field `tll`\n  |\n2 |   tll: 3\n  |   ^\n  = hint: did you mean `ttl`?\n1 problem in b.yaml; nothing was sent to AWS\n"
        );
    }
}
