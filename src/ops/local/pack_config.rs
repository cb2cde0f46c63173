//! Pack configs on this machine: `configs/<pack>.yaml` shown as registered or resolved,
//! offered for editing, and written in place (submodule [`edit`]: the user's comments, `---`,
//! key order and the values not asked for stay as they were) and registered.

pub(crate) mod edit;

use anyhow::{bail, Context as _};
use serde_json::{Map, Value};

use crate::config::{self, mask_literal_secrets};
use crate::datastore::Datastore;
use crate::ops::packs::{ConfigForm, Warned, WrittenConfig};
use crate::pack::PackRef;
use crate::register::{file_mtime_ns, load_config};
use crate::schema;
use crate::settings::Settings;
use crate::store::Store;
use crate::yaml;

fn not_installed(pack: &str) -> anyhow::Error {
    anyhow::anyhow!("Pack \"{pack}\" is not installed. Install it with `st2 pack install {pack}`.")
}

/// The store, and `pack` as a ref of an installed pack.
fn open_installed(settings: &Settings, pack: &str) -> anyhow::Result<(Store, PackRef)> {
    let Some(store) = Store::open_existing(&settings.store_path)? else {
        return Err(not_installed(pack));
    };
    let pack_ref = match PackRef::parse(pack) {
        Some(pack_ref) if store.pack(&pack_ref)?.is_some() => pack_ref,
        _ => return Err(not_installed(pack)),
    };
    Ok((store, pack_ref))
}

/// The registered pack's config schema (as a property map).
fn config_schema(store: &Store, pack: &PackRef) -> anyhow::Result<Option<Map<String, Value>>> {
    Ok(match store.config_schema(pack)? {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    })
}

/// The registered config of `pack`, or with `resolved` what an action gets; literal secrets
/// masked.
pub(crate) fn pack_config(settings: &Settings, pack: &str, resolved: bool) -> Warned<Value> {
    let mut warnings = Vec::new();
    let values = show(settings, pack, resolved, &mut warnings);
    Warned::new(warnings, values)
}

fn show(
    settings: &Settings,
    pack: &str,
    resolved: bool,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Value> {
    let (store, pack) = open_installed(settings, pack)?;
    let schema = config_schema(&store, &pack)?;
    let stored = store.config(&pack)?;
    let path = settings.config_path(&pack);
    match (&stored, file_mtime_ns(&path)) {
        (None, Some(_)) => warnings.push(format!(
            "{} is not registered yet: run `st2ctl reload --register-configs`",
            path.display()
        )),
        (Some(config), Some(mtime)) if config.file_mtime_ns.is_some_and(|at| mtime > at) => {
            warnings.push(format!(
                "{} changed since it was registered: run `st2ctl reload --register-configs`",
                path.display()
            ))
        }
        _ => {}
    }
    let values = if resolved {
        drop(store);
        let datastore = Datastore::open(settings)?;
        let snapshot = datastore.snapshot()?;
        let result = config::resolve(
            &pack,
            schema.as_ref(),
            stored.as_ref().map(|config| &config.values),
            &settings.system_user,
            &snapshot,
        )?;
        warnings.extend(result.warnings);
        result.values
    } else {
        match &stored {
            Some(config) => config.values.clone(),
            None => Value::Object(Map::new()),
        }
    };
    Ok(mask_literal_secrets(schema.as_ref(), &values))
}

/// The config schema of `pack` and its config's current values: the file if it is readable
/// YAML, else what is registered.
pub(crate) fn pack_config_form(settings: &Settings, pack: &str) -> anyhow::Result<ConfigForm> {
    let (store, pack) = open_installed(settings, pack)?;
    let Some(schema) = config_schema(&store, &pack)? else {
        bail!(
            "Pack \"{pack}\" has no config schema (config.schema.yaml), so there is nothing to \
             ask; write {} by hand if it needs a config",
            settings.config_path(&pack).display()
        );
    };
    let current = match read_file(settings, &pack).1 {
        Some(map) => map,
        None => match store.config(&pack)? {
            Some(config) => config.values.as_object().cloned().unwrap_or_default(),
            None => Map::new(),
        },
    };
    Ok(ConfigForm { schema, current })
}

/// The config file's text, if readable, and its values, if they are a YAML mapping.
fn read_file(settings: &Settings, pack: &PackRef) -> (Option<String>, Option<Map<String, Value>>) {
    let text = std::fs::read_to_string(settings.config_path(pack)).ok();
    let values = match text.as_deref().map(yaml::from_str) {
        Some(Ok(Value::Object(map))) => Some(map),
        _ => None,
    };
    (text, values)
}

/// Validate `values` against the registered schema of `pack`, write them into its config file
/// (only what changed is rewritten) and register it.
pub(crate) fn write_pack_config(
    settings: &Settings,
    pack: &str,
    values: &Value,
) -> anyhow::Result<WrittenConfig> {
    let (mut store, pack) = open_installed(settings, pack)?;
    let Some(schema) = config_schema(&store, &pack)? else {
        bail!("Pack \"{pack}\" has no config schema (config.schema.yaml)");
    };
    if let Err(invalid) = schema::validate_config(&schema, values) {
        let lines: Vec<String> = invalid
            .errors
            .iter()
            .map(|error| format!("{}: {}", error.dotted_path(), error.message))
            .collect();
        bail!(
            "the config is not valid, nothing was written:\n{}",
            lines.join("\n")
        );
    }
    settings.ensure_writable()?;
    let path = settings.config_path(&pack);
    // Only what changed is rewritten in the user's file; comments and the rest stay.
    let written = match read_file(settings, &pack) {
        (Some(text), Some(old)) => edit::update(&text, &Value::Object(old), values),
        (Some(text), None) => edit::rewrite(&text, values),
        (None, _) => yaml::to_string(values),
    };
    // Readable by its owner only: configs hold secrets.
    crate::fs::write_atomic(&path, written.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let schema_value = Value::Object(schema.clone());
    let record = load_config(&path, &pack, Some(&schema_value))
        .map_err(|err| anyhow::anyhow!("{err}"))?
        .context("the config file vanished while registering it")?;
    store.set_config(&record)?;
    Ok(WrittenConfig {
        location: path.display().to_string(),
        values: mask_literal_secrets(Some(&schema), values),
    })
}
