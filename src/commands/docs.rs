//! `mailinfra completions SHELL` and `mailinfra man`: generated from the clap definition,
//! so they always match the binary.

use std::path::Path;

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

/// The man page on stdout; with `dir`, it and one page per command (`mailinfra-plan.1`, the
/// pages the main page's COMMANDS section names) written there.
pub fn man(dir: Option<&Path>, out: &Output) -> Outcome {
    let mut cli = Cli::command();
    // Built, it holds the `help` command too, which the main page names like the others.
    cli.build();
    let Some(dir) = dir else {
        out.data(&String::from_utf8_lossy(&render(cli)?));
        return Ok(0);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Refused(format!("cannot create `{}`: {e}", dir.display())))?;
    let mut pages = vec![("mailinfra.1".to_owned(), render(cli.clone())?)];
    for sub in cli.get_subcommands() {
        let name = format!("mailinfra-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("mailinfra {}", sub.get_name()));
        pages.push((format!("{name}.1"), render(page)?));
    }
    for (file, roff) in &pages {
        let path = dir.join(file);
        std::fs::write(&path, roff)
            .map_err(|e| Failure::Refused(format!("cannot write `{}`: {e}", path.display())))?;
    }
    out.progress(&format!(
        "wrote {} man pages to {}",
        pages.len(),
        dir.display()
    ));
    Ok(0)
}

fn render(cmd: clap::Command) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Failure::Refused(format!("rendering the man page: {e}")))?;
    Ok(buf)
}
