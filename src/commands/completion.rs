//! `st2 completion SHELL` and `st2 man [PROGRAM]`: generated from the clap definitions, so
//! they never drift from the real command line.

use clap::CommandFactory;

use super::{Context, ExitStatus};
use crate::cli::{Program, Shell, St2Cli, St2ctlCli};

/// Print a completion script for `shell`.
pub fn completion(shell: Shell, context: &Context) -> anyhow::Result<ExitStatus> {
    let mut command = St2Cli::command();
    let mut buffer = Vec::new();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut command, "st2", &mut buffer);
    context.printer.stdout(&String::from_utf8_lossy(&buffer));
    Ok(ExitStatus::Success)
}

/// Print the roff manual page of `program`.
pub fn man(program: Program, context: &Context) -> anyhow::Result<ExitStatus> {
    let command = match program {
        Program::St2 => St2Cli::command(),
        Program::St2ctl => St2ctlCli::command(),
    };
    let mut buffer = Vec::new();
    clap_mangen::Man::new(command).render(&mut buffer)?;
    context.printer.stdout(&String::from_utf8_lossy(&buffer));
    Ok(ExitStatus::Success)
}
