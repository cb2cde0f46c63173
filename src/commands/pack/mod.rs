//! `st2 pack ...`: one module per subcommand.

pub mod config;
pub mod get;
pub mod install;
pub mod list;
pub mod register;
pub mod remove;
pub mod search;
pub mod show;

use super::{Context, ExitStatus};
use crate::cli::PackCommand;
use crate::index::{Index, IndexOptions};
use crate::ops::local::recover;
use crate::store::Store;

/// Run `st2 pack <command>`.
pub fn run(command: PackCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        PackCommand::Install(args) => install::run(&args, context),
        PackCommand::List => list::run(context),
        PackCommand::Get { pack_ref } => get::run(&pack_ref, context),
        PackCommand::Show { name } => show::run(&name, context),
        PackCommand::Search { query } => search::run(&query, context),
        PackCommand::Remove { packs } => remove::run(&packs, context),
        PackCommand::Register { packs } => register::run(&packs, context),
        PackCommand::Config(args) => config::run(args, context),
    }
}

/// Load the index for `show` and `search`, printing its warnings.
pub fn load_index(context: &Context) -> anyhow::Result<Index> {
    let loaded = Index::load(
        &context.settings.index_urls,
        &IndexOptions::from_settings(&context.settings),
    )?;
    for warning in &loaded.warnings {
        context.printer.warn(warning);
    }
    Ok(loaded.index)
}

/// Open the store if it exists, first rolling back installs that were killed before they
/// registered (so that what is listed is what is on disk), with a warning for each.
pub fn open_store(context: &Context) -> anyhow::Result<Option<Store>> {
    let Some(mut store) = Store::open_existing(&context.settings.store_path)? else {
        recover::remove_abandoned(&context.settings);
        return Ok(None);
    };
    for warning in recover::recover_interrupted(&context.settings, &mut store)? {
        context.printer.warn(&warning);
    }
    Ok(Some(store))
}
