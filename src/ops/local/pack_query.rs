//! Reading packs: the installed ones (`st2 pack list/get`, from the store) and the index's
//! (`st2 pack search/show`).

use crate::index::{Index, IndexOptions};
use crate::ops::packs::{IndexLookup, IndexSearch, PackDetails, PackView, Warned};
use crate::settings::Settings;
use crate::store::Store;

/// The installed packs, the built-in core pack among them.
pub(crate) fn list_packs(settings: &Settings) -> Warned<Vec<PackView>> {
    let (store, warnings) = match super::open_store(settings) {
        Ok(opened) => opened,
        Err(err) => return Warned::new(Vec::new(), Err(err)),
    };
    let packs = list(store.as_ref());
    Warned::new(warnings, packs)
}

fn list(store: Option<&Store>) -> anyhow::Result<Vec<PackView>> {
    let mut packs = match store {
        Some(store) => store.packs()?,
        None => Vec::new(),
    };
    // The built-in core pack is there without installing anything, as upstream's is.
    if let Some(core) = crate::action::builtin_pack(store)? {
        packs.push(core);
        packs.sort_by(|a, b| a.pack_ref.cmp(&b.pack_ref));
    }
    Ok(packs)
}

/// One installed pack and the count of what it registered.
pub(crate) fn get_pack(settings: &Settings, pack_ref: &str) -> Warned<PackDetails> {
    let (store, warnings) = match super::open_store(settings) {
        Ok(opened) => opened,
        Err(err) => return Warned::new(Vec::new(), Err(err)),
    };
    let details = get(store.as_ref(), pack_ref);
    Warned::new(warnings, details)
}

fn get(store: Option<&Store>, pack_ref: &str) -> anyhow::Result<PackDetails> {
    let builtin = match pack_ref {
        "core" => crate::action::builtin_pack(store)?,
        _ => None,
    };
    let (pack, content) = match (builtin, store) {
        (Some(core), _) => {
            let actions = crate::action::builtin_actions().len() as u64;
            (core, vec![("actions".to_string(), actions)])
        }
        (None, None) => {
            anyhow::bail!("Pack \"{pack_ref}\" is not found (no pack is installed).")
        }
        (None, Some(store)) => match store.pack(pack_ref)? {
            Some(pack) => (pack, store.content_counts(pack_ref)?),
            None => anyhow::bail!(
                "Pack \"{pack_ref}\" is not found. Installed packs: {}",
                installed_refs(store)?
            ),
        },
    };
    Ok(PackDetails { pack, content })
}

fn installed_refs(store: &Store) -> anyhow::Result<String> {
    let refs: Vec<String> = store.packs()?.into_iter().map(|p| p.pack_ref).collect();
    Ok(if refs.is_empty() {
        "none".into()
    } else {
        refs.join(", ")
    })
}

/// The index's packs matching `query`, best first; close names when none does.
pub(crate) fn search_index(settings: &Settings, query: &str) -> Warned<IndexSearch> {
    let (index, warnings) = match load_index(settings) {
        Ok(loaded) => loaded,
        Err(err) => return Warned::new(Vec::new(), Err(err)),
    };
    let matches: Vec<_> = index.search(query).into_iter().cloned().collect();
    let suggestions = if matches.is_empty() {
        index.suggest(query)
    } else {
        Vec::new()
    };
    Warned::new(
        warnings,
        Ok(IndexSearch {
            matches,
            suggestions,
        }),
    )
}

/// The index's entry for `name`; close names when it has none.
pub(crate) fn show_index_pack(settings: &Settings, name: &str) -> Warned<IndexLookup> {
    let (index, warnings) = match load_index(settings) {
        Ok(loaded) => loaded,
        Err(err) => return Warned::new(Vec::new(), Err(err)),
    };
    let entry = index.get(name).cloned();
    let suggestions = match entry {
        Some(_) => Vec::new(),
        None => index.suggest(name),
    };
    Warned::new(warnings, Ok(IndexLookup { entry, suggestions }))
}

fn load_index(settings: &Settings) -> anyhow::Result<(Index, Vec<String>)> {
    let loaded = Index::load(&settings.index_urls, &IndexOptions::from_settings(settings))?;
    Ok((loaded.index, loaded.warnings))
}
