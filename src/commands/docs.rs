//! `mailinfra completions SHELL` and `mailinfra man`: generated from the clap definition,
//! so they always match the binary.

use clap::CommandFactory;

use super::{Failure, Outcome};
use crate::cli::Cli;
use crate::output::Output;

pub fn completions(shell: clap_complete::Shell, out: &Output) -> Outcome {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mailinfra", &mut buf);
    out.data(&String::from_utf8_lossy(&buf));
    Ok(0)
}

pub fn man(out: &Output) -> Outcome {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|e| Failure::Refused(format!("rendering the man page: {e}")))?;
    out.data(&String::from_utf8_lossy(&buf));
    Ok(0)
}
