//! mailinfra: provisions and keeps in shape the AWS infrastructure for sending mail that
//! arrives.
//!
//! The pure core (`blueprint`, `mail`, `plan`, and the pure half of each resource kind in
//! `kinds`) knows nothing of AWS or tokio; the edges (`aws`, each kind's `observe` and
//! `execute`) are thin; `commands` wires them; `output` is the only place that prints. See
//! docs/architecture.md.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod aws;
pub mod blueprint;
pub mod check;
pub mod cli;
pub mod commands;
pub mod execute;
pub mod interrupt;
pub mod kinds;
pub mod lock;
pub mod mail;
pub mod observe;
pub mod output;
pub mod plan;
pub mod policy;

use clap::Parser;

use cli::{Cli, Command};
use commands::Failure;
use output::Output;

/// Parses `args`, runs the command, and returns the process exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let g = &cli.global;
    let out = Output::new(g.color, g.quiet, g.verbose);
    let result = match &cli.command {
        Command::Validate(a) => commands::validate::run(a, &out),
        Command::Policy(a) => commands::policy::run(a, g, &out),
        Command::Schema => commands::schema::run(&out),
        Command::Show(a) => commands::show::run(a, &out),
        Command::Render(a) => commands::render_files::run(a, g, &out),
        Command::Completions { shell } => commands::docs::completions(*shell, &out),
        Command::Man { dir } => commands::docs::man(dir.as_deref(), &out),
        other => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(async {
                match other {
                    Command::Plan(a) => commands::plan::run(a, g, &out).await,
                    Command::Apply(a) => commands::apply::run(a, g, &out).await,
                    Command::Rotate(a) => commands::apply::rotate(a, g, &out).await,
                    Command::Destroy(a) => commands::destroy::run(a, g, &out).await,
                    Command::Status(a) => commands::status::run(a, g, &out).await,
                    Command::Bounces(a) => commands::bounces::run(a, g, &out).await,
                    Command::Check(a) => commands::check::run(a, g, &out).await,
                    Command::Import(a) => commands::import::run(a, g, &out).await,
                    Command::Validate(_)
                    | Command::Render(_)
                    | Command::Policy(_)
                    | Command::Schema
                    | Command::Show(_)
                    | Command::Completions { .. }
                    | Command::Man { .. } => {
                        unreachable!("handled above")
                    }
                }
            }),
            Err(e) => Err(Failure::Refused(format!(
                "cannot start the async runtime: {e}"
            ))),
        },
    };
    match result {
        Ok(code) => code,
        Err(Failure::Blueprint(r)) => {
            out.error_block(&r.render());
            1
        }
        Err(Failure::Conflicts(c)) => {
            out.error_block(&plan::render::conflicts(&c));
            1
        }
        Err(e) => {
            out.error(&e.to_string());
            if e.interrupted() { 130 } else { 1 }
        }
    }
}
