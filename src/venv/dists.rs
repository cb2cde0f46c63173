//! The Python distributions installed in a virtualenv, read from their `*.dist-info`
//! directories (as `pip freeze` reads them, without running Python): name, version, and a hash
//! for the lock file; and which of their files changed since they were installed, for
//! `st2 pack verify`.
//!
//! The hash is `sha256:` of the lines `path,hash` of the distribution's `RECORD`, in path
//! order, keeping only the files the wheel put into site-packages with the hash the wheel
//! records for them. Left out: files outside site-packages (console scripts, whose first line
//! names the interpreter of this virtualenv), byte-code (`__pycache__`, compiled by pip and
//! not by uv), and what the installer writes itself (`RECORD`, `INSTALLER`, `REQUESTED`,
//! `direct_url.json`, `uv_cache.json`). So the same wheel gives the same hash in any
//! virtualenv and with either installer, and another build of the same version (another
//! platform's wheel, a patched copy) a different one. Hashing the downloaded wheel archive
//! instead would need the archive, which neither pip nor uv keeps in a form we can find.

use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

/// One installed distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dist {
    /// The normalized name (PEP 503).
    pub(crate) name: String,
    /// The version, as installed.
    pub(crate) version: String,
    /// `sha256:` of its RECORD (see the module's doc).
    pub(crate) hash: String,
    /// Its `.dist-info` directory.
    dist_info: PathBuf,
    /// The site-packages directory it is in.
    site: PathBuf,
}

impl Dist {
    /// `name==version`.
    pub(crate) fn pin(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }

    /// The files the RECORD lists (and the hash covers) whose content is not what the
    /// RECORD says, or that are gone: paths relative to site-packages.
    pub(crate) fn changed_files(&self) -> Vec<String> {
        let Ok(text) = std::fs::read_to_string(self.dist_info.join("RECORD")) else {
            return vec![format!("{}/RECORD", file_name(&self.dist_info))];
        };
        let mut changed = Vec::new();
        for (path, hash) in hashed_entries(&text) {
            let Some(expected) = hash.strip_prefix("sha256=") else {
                continue;
            };
            let actual = std::fs::read(self.site.join(&path)).map(|bytes| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
            });
            if actual.ok().as_deref() != Some(expected) {
                changed.push(path);
            }
        }
        changed
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// PEP 503's normalized name: lower case, each run of `-`, `_` and `.` one `-`.
pub(crate) fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
        } else {
            if separator && !out.is_empty() {
                out.push('-');
            }
            separator = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The site-packages directories of the virtualenv at `venv` (`lib/python3.X/site-packages`).
fn site_packages(venv: &Path) -> Vec<PathBuf> {
    let mut sites = Vec::new();
    if let Ok(entries) = std::fs::read_dir(venv.join("lib")) {
        for entry in entries.flatten() {
            let site = entry.path().join("site-packages");
            if entry.file_name().to_string_lossy().starts_with("python") && site.is_dir() {
                sites.push(site);
            }
        }
    }
    sites.sort();
    sites
}

/// Every distribution installed in the virtualenv at `venv`, by name.
pub(crate) fn installed(venv: &Path) -> Vec<Dist> {
    let mut dists = Vec::new();
    for site in site_packages(venv) {
        let Ok(entries) = std::fs::read_dir(&site) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".dist-info") || !entry.path().is_dir() {
                continue;
            }
            if let Some(dist) = read_dist(&site, &entry.path()) {
                dists.push(dist);
            }
        }
    }
    dists.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    dists
}

fn read_dist(site: &Path, dist_info: &Path) -> Option<Dist> {
    let metadata = std::fs::read_to_string(dist_info.join("METADATA")).unwrap_or_default();
    let field = |key: &str| {
        metadata
            .lines()
            .take_while(|line| !line.is_empty())
            .find_map(|line| line.strip_prefix(key).map(|rest| rest.trim().to_string()))
    };
    // `name-version.dist-info`, when METADATA lacks the fields.
    let stem = file_name(dist_info);
    let stem = stem.trim_end_matches(".dist-info");
    let (stem_name, stem_version) = stem.rsplit_once('-').unwrap_or((stem, ""));
    let name = field("Name:").unwrap_or_else(|| stem_name.to_string());
    let version = field("Version:").unwrap_or_else(|| stem_version.to_string());
    if name.is_empty() {
        return None;
    }
    let record = std::fs::read_to_string(dist_info.join("RECORD")).unwrap_or_default();
    let mut hasher = Sha256::new();
    for (path, hash) in hashed_entries(&record) {
        hasher.update(format!("{path},{hash}\n").as_bytes());
    }
    Some(Dist {
        name: normalize_name(&name),
        version,
        hash: format!("sha256:{}", hex::encode(hasher.finalize())),
        dist_info: dist_info.to_path_buf(),
        site: site.to_path_buf(),
    })
}

/// The RECORD's entries the hash covers (see the module's doc), by path.
fn hashed_entries(record: &str) -> Vec<(String, String)> {
    const WRITTEN_BY_INSTALLER: [&str; 5] = [
        "RECORD",
        "INSTALLER",
        "REQUESTED",
        "direct_url.json",
        "uv_cache.json",
    ];
    let mut entries: Vec<(String, String)> = record
        .lines()
        .filter_map(|line| {
            let fields = csv_fields(line);
            let path = fields.first()?.clone();
            let hash = fields.get(1)?.clone();
            if hash.is_empty()
                || path.starts_with("../")
                || path.starts_with('/')
                || path.contains("__pycache__/")
                || path.ends_with(".pyc")
            {
                return None;
            }
            if let Some((dir, file)) = path.split_once('/') {
                if dir.ends_with(".dist-info") && WRITTEN_BY_INSTALLER.contains(&file) {
                    return None;
                }
            }
            Some((path, hash))
        })
        .collect();
    entries.sort();
    entries.dedup();
    entries
}

/// The fields of a CSV line (RECORD files are CSV: a path with a comma is quoted).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(data: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data))
    }

    /// A virtualenv with one distribution installed as `installer` would (RECORD and all).
    fn fake_venv(root: &Path, installer: &str, script_line: &str) -> PathBuf {
        let site = root.join("lib/python3.11/site-packages");
        let info = site.join("Demo_Pkg-1.0.dist-info");
        std::fs::create_dir_all(site.join("demo_pkg/__pycache__")).unwrap();
        std::fs::create_dir_all(&info).unwrap();
        let module = b"VALUE = 1\n";
        std::fs::write(site.join("demo_pkg/__init__.py"), module).unwrap();
        std::fs::write(
            site.join("demo_pkg/__pycache__/__init__.cpython-311.pyc"),
            b"pyc",
        )
        .unwrap();
        let metadata = b"Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 1.0\n\nlong text\n";
        std::fs::write(info.join("METADATA"), metadata).unwrap();
        std::fs::write(info.join("INSTALLER"), installer).unwrap();
        let record = format!(
            "demo_pkg/__init__.py,sha256={},10\n\
             demo_pkg/__pycache__/__init__.cpython-311.pyc,sha256=xx,3\n\
             Demo_Pkg-1.0.dist-info/METADATA,sha256={},{}\n\
             Demo_Pkg-1.0.dist-info/INSTALLER,sha256={},3\n\
             Demo_Pkg-1.0.dist-info/RECORD,,\n\
             ../../../bin/demo,sha256={script_line},40\n",
            b64(module),
            b64(metadata),
            metadata.len(),
            b64(installer.as_bytes()),
        );
        std::fs::write(info.join("RECORD"), record).unwrap();
        root.to_path_buf()
    }

    #[test]
    fn the_same_wheel_hashes_alike_in_any_virtualenv_with_either_installer() {
        let dir = tempfile::tempdir().unwrap();
        let uv = installed(&fake_venv(&dir.path().join("a"), "uv", "AAA"));
        let pip = installed(&fake_venv(&dir.path().join("b"), "pip", "BBB"));
        assert_eq!(uv.len(), 1);
        assert_eq!(uv[0].name, "demo-pkg");
        assert_eq!(uv[0].version, "1.0");
        assert_eq!(uv[0].pin(), "demo-pkg==1.0");
        assert_eq!(uv[0].hash, pip[0].hash);
        assert!(uv[0].changed_files().is_empty());
    }

    #[test]
    fn changed_files_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let venv = fake_venv(dir.path(), "uv", "AAA");
        let site = venv.join("lib/python3.11/site-packages");
        std::fs::write(site.join("demo_pkg/__init__.py"), "VALUE = 2\n").unwrap();
        let dist = &installed(&venv)[0];
        assert_eq!(dist.changed_files(), vec!["demo_pkg/__init__.py"]);
        std::fs::remove_file(site.join("demo_pkg/__init__.py")).unwrap();
        assert_eq!(dist.changed_files(), vec!["demo_pkg/__init__.py"]);
    }

    #[test]
    fn names_and_csv() {
        assert_eq!(normalize_name("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(normalize_name("requests"), "requests");
        assert_eq!(
            csv_fields("\"a,b.py\",sha256=x,3"),
            vec!["a,b.py", "sha256=x", "3"]
        );
        assert_eq!(csv_fields("a,,"), vec!["a", "", ""]);
    }
}
