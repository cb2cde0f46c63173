//! `st2 pack ...`: one module per subcommand.

pub(crate) mod config;
pub(crate) mod get;
pub(crate) mod install;
pub(crate) mod list;
pub(crate) mod outdated;
pub(crate) mod prune;
pub(crate) mod register;
pub(crate) mod remove;
pub(crate) mod search;
pub(crate) mod show;
pub(crate) mod update;
pub(crate) mod verify;

use super::{Context, ExitStatus};
use crate::cli::PackCommand;
use crate::ops::packs::Warned;

/// Run `st2 pack <command>`.
pub(crate) fn run(command: PackCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        PackCommand::Install(args) => install::run(&args, context),
        PackCommand::List => list::run(context),
        PackCommand::Get { pack_ref } => get::run(&pack_ref, context),
        PackCommand::Show { name } => show::run(&name, context),
        PackCommand::Search { query } => search::run(&query, context),
        PackCommand::Remove { packs } => remove::run(&packs, context),
        PackCommand::Register { packs, types } => register::run(&packs, &types, context),
        PackCommand::Config(args) => config::run(args, context),
        PackCommand::Outdated { packs, offline } => outdated::run(&packs, offline, context),
        PackCommand::Update(args) => update::run(&args, context),
        PackCommand::Verify { packs } => verify::run(&packs, context),
        PackCommand::Prune { yes } => prune::run(yes, context),
    }
}

/// An operation's answer, its warnings printed first.
fn warned<T>(warned: Warned<T>, context: &Context) -> anyhow::Result<T> {
    for warning in &warned.warnings {
        context.printer.warn(warning);
    }
    warned.answer
}
