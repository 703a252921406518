//! The only place that prints. stdout carries data (plans, JSON, results); stderr carries
//! progress, warnings and errors. Colour only on terminals, never with `NO_COLOR` set or
//! `--color never`; `-q` silences progress, never data or errors.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, IsTerminal, Write};

use clap::ValueEnum;

use crate::plan::render::Paint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is unset.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone)]
pub struct Output {
    color_out: bool,
    color_err: bool,
    quiet: bool,
    verbose: u8,
}

impl Output {
    pub fn new(color: ColorChoice, quiet: bool, verbose: u8) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |tty: bool| match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        Self {
            color_out: decide(std::io::stdout().is_terminal()),
            color_err: decide(std::io::stderr().is_terminal()),
            quiet,
            verbose,
        }
    }

    pub fn paint_out(&self) -> Paint {
        Paint {
            color: self.color_out,
        }
    }

    pub fn paint_err(&self) -> Paint {
        Paint {
            color: self.color_err,
        }
    }

    /// Data, to stdout, exactly as given.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// A progress line, to stderr, unless `-q`.
    pub fn progress(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// A detail line shown with `-v`.
    pub fn debug(&self, line: &str) {
        if self.verbose > 0 && !self.quiet {
            eprintln!("{line}");
        }
    }

    pub fn warn(&self, line: &str) {
        eprintln!("{} {line}", self.paint_err().yellow("warning:"));
    }

    /// Errors already formatted (blueprint reports, conflicts), to stderr.
    pub fn error_block(&self, text: &str) {
        eprint!("{text}");
    }

    pub fn error(&self, message: &str) {
        eprintln!("{} {message}", self.paint_err().red("error:"));
    }

    /// Whether a person can be asked: stdin and stderr are terminals.
    pub fn can_prompt(&self) -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// Asks on stderr; true only for the answer `yes`.
    pub fn confirm(&self, question: &str) -> bool {
        eprint!("{question} Only 'yes' will be accepted: ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        answer.trim() == "yes"
    }
}
