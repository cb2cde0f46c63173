//! The metadata files of a pack's content folders: found (`*.yaml`, `*.yml`), parsed on
//! several threads, each turned into a record as soon as it is parsed.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::pack::manifest::kind_of;
use crate::yaml;

/// `*.yaml` and `*.yml` files directly in `dir` (not recursive), sorted; a missing folder has
/// none.
pub(super) fn metadata_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (name.ends_with(".yaml") || name.ends_with(".yml")) && keep(name)
        })
        .collect();
    files.sort();
    files
}

/// Parse `files` and turn each into a record with `convert`, on several threads; results in
/// the order of `files`. Each file's parsed tree is dropped as soon as its record is made.
pub(super) fn parse_in_parallel<T: Send>(
    files: &[PathBuf],
    convert: impl Fn(&Path, Value) -> Result<T, String> + Sync,
) -> Vec<Result<T, String>> {
    let parse = |file: &PathBuf| {
        yaml::from_path(file)
            .map_err(|err| err.to_string())
            .and_then(|value| convert(file, value))
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if files.len() < 64 || threads == 1 {
        return files.iter().map(parse).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(parse).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("YAML parsing does not panic"))
            .collect()
    })
}

/// [`parse_in_parallel`] without holding every record: `files` are parsed a window at a time
/// (on several threads when the window is large enough to pay for them), and each result is
/// handed to `sink` in the order of `files` before the next window starts. `sink` stops the
/// walk by returning an error, which is returned.
pub(super) fn parse_streaming<T: Send, E>(
    files: &[PathBuf],
    convert: impl Fn(&Path, Value) -> Result<T, String> + Sync,
    mut sink: impl FnMut(&Path, Result<T, String>) -> Result<(), E>,
) -> Result<(), E> {
    /// Files parsed before their records are handed on: a few hundred records at most are
    /// held at once, whatever the pack's size.
    const WINDOW: usize = 256;
    for window in files.chunks(WINDOW) {
        for (file, result) in window.iter().zip(parse_in_parallel(window, &convert)) {
            sink(file, result)?;
        }
    }
    Ok(())
}

/// `file` relative to the pack directory `dir` (`actions/x.yaml`), as records name it.
pub(super) fn relative_path(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned()
}

/// A metadata file's top level, which must be a mapping.
pub(super) fn metadata_mapping(value: Value) -> Result<Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Err("the metadata file is empty".into()),
        other => Err(format!("expected a mapping, got {}", kind_of(&other))),
    }
}
