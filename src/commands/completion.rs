//! `st2 completion SHELL` and `st2 man [PROGRAM]`: generated from the clap definitions, so
//! they never drift from the real command line.

use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory;

use super::{Context, ExitStatus, UsageError};
use crate::cli::{Shell, St2Cli, St2ctlCli};

/// Print a completion script for `shell`.
pub(crate) fn completion(shell: Shell, context: &Context) -> anyhow::Result<ExitStatus> {
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

/// Every manual page: `st2`, `st2ctl` and one per command (`st2-pack-install`), named as
/// clap_mangen names them, so that each page's SUBCOMMANDS section only names pages that
/// exist. Hidden commands and clap's `help` command have none.
fn pages() -> Vec<(String, clap::Command)> {
    fn walk(command: clap::Command, out: &mut Vec<(String, clap::Command)>) {
        let name = command
            .get_display_name()
            .unwrap_or(command.get_name())
            .to_string();
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            walk(sub.clone(), out);
        }
        // The page's title names the page, not the bare command word ("install").
        out.push((name.clone(), command.name(name)));
    }
    let mut pages = Vec::new();
    for mut command in [St2Cli::command(), St2ctlCli::command()] {
        command = command.disable_help_subcommand(true);
        command.build();
        walk(command, &mut pages);
    }
    pages.sort_by(|a, b| a.0.cmp(&b.0));
    pages
}

/// Print the roff manual page `page`, or write them all into `output_dir`.
pub(crate) fn man(
    page: &str,
    output_dir: Option<&Path>,
    context: &Context,
) -> anyhow::Result<ExitStatus> {
    let pages = pages();
    if let Some(dir) = output_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, command) in &pages {
            let path = dir.join(format!("{name}.1"));
            let mut buffer = Vec::new();
            clap_mangen::Man::new(command.clone()).render(&mut buffer)?;
            std::fs::write(&path, buffer)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        context.printer.info(&format!(
            "wrote {} manual pages into {}",
            pages.len(),
            dir.display()
        ));
        return Ok(ExitStatus::Success);
    }
    let Some((_, command)) = pages.iter().find(|(name, _)| name == page) else {
        let names: Vec<&str> = pages.iter().map(|(name, _)| name.as_str()).collect();
        return Err(UsageError(format!(
            "no manual page \"{page}\"; the pages are: {}",
            names.join(", ")
        ))
        .into());
    };
    let mut buffer = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut buffer)?;
    context.printer.stdout(&String::from_utf8_lossy(&buffer));
    Ok(ExitStatus::Success)
}
