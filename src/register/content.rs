//! The other content kinds (triggers, sensors, rules, aliases, policies): each metadata file
//! stored whole as a resource record, named by its `name` (a sensor by its `class_name`).
//! Their contents are not checked beyond being a mapping: nothing here runs them.

use std::path::Path;

use serde_json::Value;

use super::files::{metadata_files, metadata_mapping, parse_in_parallel, relative_path};
use super::{Problems, Selection};
use crate::store::{ResourceKind, ResourceRecord};

/// The resources of the pack in `dir` for the content types in `selection`; the bad files
/// are added to `problems`.
pub(super) fn read_resources(
    dir: &Path,
    pack_ref: &str,
    selection: &Selection,
    problems: &mut Problems,
) -> Vec<ResourceRecord> {
    let mut resources = Vec::new();
    for (folder, kind) in selection.iter().filter_map(|t| t.resource()) {
        let files = metadata_files(&dir.join(folder), |_| true);
        let parsed = parse_in_parallel(&files, |file, value| {
            resource_from_value(pack_ref, kind, &relative_path(dir, file), value)
        });
        for (file, resource) in files.iter().zip(parsed) {
            match resource {
                Ok(resource) => resources.push(resource),
                Err(reason) => problems.file_failed(
                    dir,
                    file,
                    format!(
                        "Failed to register {kind} \"{}\" from pack \"{pack_ref}\": {reason}",
                        file.display()
                    ),
                ),
            }
        }
    }
    resources
}

fn resource_from_value(
    pack_ref: &str,
    kind: ResourceKind,
    metadata_file: &str,
    value: Value,
) -> Result<ResourceRecord, String> {
    let map = metadata_mapping(value)?;
    // Sensors are named by `class_name` upstream; everything else by `name`.
    let name = ["name", "class_name"]
        .iter()
        .find_map(|field| map.get(*field).and_then(Value::as_str))
        .map(str::to_string)
        .unwrap_or_else(|| {
            Path::new(metadata_file)
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    Ok(ResourceRecord {
        pack: pack_ref.to_string(),
        kind,
        name,
        metadata_file: metadata_file.to_string(),
        metadata: Value::Object(map).to_string(),
    })
}
