//! The StackStorm Exchange index: which packs exist, where their repositories are, which
//! versions they have.
//!
//! Upstream: `st2common/st2common/services/packs.py`. Every `[content] index_url` is read (HTTP
//! or a file); when two indexes hold the same pack name, the one listed first wins. An index
//! that cannot be read or is not an index is skipped; only when none gives results is it an
//! error. We do better than upstream in three ways:
//! - the last good copy of each index is cached and used, with a warning, when the index cannot
//!   be reached (offline installs);
//! - versions are compared as semver (the real index lists `1.10.0` before `1.2.0`);
//! - unknown names get suggestions.
//!
//! Reading a URL (HTTP or file, timeouts, size limit) is in `index/fetch.rs`.
//!
//! ```ignore
//! // Crate-internal: not compiled as a doctest; the unit tests below make the same calls.
//! let loaded = Index::load(&["file:///tmp/index.json".into()], &IndexOptions::default())?;
//! let twitter = loaded.index.get("twitter").expect("listed");
//! println!("{} {}", twitter.repo_url, twitter.default_version());
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

mod fetch;

use fetch::fetch;

/// How to read indexes.
#[derive(Debug, Clone)]
pub(crate) struct IndexOptions {
    /// Timeout for each HTTP request.
    pub timeout: Duration,
    /// A PEM CA bundle to trust for HTTPS, besides the system's.
    pub ca_bundle: Option<PathBuf>,
    /// Where to keep the last good copy of each index (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Never use the network: an index on a server is read from its cached copy only.
    pub offline: bool,
}

impl IndexOptions {
    /// The options `st2.conf` gives: network timeout, CA bundle, and the cache under the base
    /// path.
    pub(crate) fn from_settings(settings: &crate::settings::Settings) -> IndexOptions {
        IndexOptions {
            timeout: settings.network_timeout,
            ca_bundle: settings.ca_bundle.clone(),
            cache_dir: Some(settings.cache_dir()),
            offline: false,
        }
    }
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            timeout: Duration::from_secs(30),
            ca_bundle: None,
            cache_dir: None,
            offline: false,
        }
    }
}

/// Errors reading indexes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IndexError {
    /// No index gave results (and no cached copy was available).
    #[error(
        "No results from the index: {}; check [content] index_url in st2.conf and the network \
         (HTTPS_PROXY), or install from a git URL or a local directory",
        statuses.join("; ")
    )]
    NoResults {
        /// Every URL tried.
        urls: Vec<String>,
        /// One line per URL: what went wrong.
        statuses: Vec<String>,
    },
    /// A document is not an index.
    #[error("{url}: not a pack index: {reason}")]
    Invalid {
        /// Where it came from.
        url: String,
        /// Why.
        reason: String,
    },
}

/// One pack of the index.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IndexEntry {
    /// The key of the entry in the index's `packs` object: the pack's ref, and the NAME that
    /// `st2 pack install NAME` looks up (upstream `get_pack_from_index`), even where the display
    /// `name` differs (`aoscx` is named "Aruba AOS-CX Pack").
    pub key: String,
    /// `name`: the display name.
    pub name: String,
    /// `ref`, when the index gives one.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub ref_: Option<String>,
    /// `description`.
    pub description: String,
    /// `version`: the version the index publishes.
    pub version: String,
    /// `versions`: every released version (in no reliable order).
    pub versions: Vec<String>,
    /// `author`.
    pub author: String,
    /// `email`.
    pub email: Option<String>,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// `repo_url`.
    pub repo_url: String,
    /// `python_versions`.
    pub python_versions: Vec<String>,
    /// `stackstorm_version`.
    pub stackstorm_version: Option<String>,
    /// The entry exactly as in the index (for `st2 pack show`).
    #[serde(skip)]
    pub raw: Value,
    /// The index URL it came from (recorded in the lock file).
    #[serde(skip)]
    pub index_url: String,
}

impl IndexEntry {
    fn from_value(key: &str, value: &Value) -> Option<IndexEntry> {
        let map = value.as_object()?;
        let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
        let list = |key: &str| -> Vec<String> {
            match map.get(key) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|item| match item {
                        Value::String(text) => Some(text.clone()),
                        Value::Number(number) => Some(number.to_string()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            }
        };
        Some(IndexEntry {
            key: key.to_string(),
            name: text("name").unwrap_or_else(|| key.to_string()),
            repo_url: text("repo_url")?,
            ref_: text("ref"),
            description: text("description").unwrap_or_default(),
            version: match map.get("version") {
                Some(Value::Number(number)) => number.to_string(),
                _ => text("version").unwrap_or_default(),
            },
            versions: list("versions"),
            author: text("author").unwrap_or_default(),
            email: text("email"),
            keywords: list("keywords"),
            python_versions: list("python_versions"),
            stackstorm_version: text("stackstorm_version"),
            raw: value.clone(),
            index_url: String::new(),
        })
    }

    /// The highest semver of `version` and `versions` (upstream takes `version`; they agree
    /// for every entry of the real index but `kubernetes`, whose `versions` lists a 1.8.0).
    pub(crate) fn default_version(&self) -> String {
        self.sorted_versions()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.version.clone())
    }

    /// Every distinct version, highest first by semver; versions that are not semver come
    /// last, in the order they were listed.
    pub(crate) fn sorted_versions(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for version in std::iter::once(&self.version).chain(&self.versions) {
            if !version.is_empty() && !all.contains(version) {
                all.push(version.clone());
            }
        }
        sort_versions(&mut all);
        all
    }

    /// Whether `version` is one of the index's versions (exact, or equal as semver, a leading
    /// `v` allowed).
    pub(crate) fn has_version(&self, version: &str) -> bool {
        let wanted = version.strip_prefix('v').unwrap_or(version);
        let wanted_semver = semver::Version::parse(wanted).ok();
        std::iter::once(&self.version)
            .chain(&self.versions)
            .any(|known| {
                known == version
                    || known == wanted
                    || match (&wanted_semver, semver::Version::parse(known)) {
                        (Some(wanted), Ok(known)) => *wanted == known,
                        _ => false,
                    }
            })
    }

    /// Content counts from `content.<type>.count`: actions, rules, sensors, aliases, triggers
    /// first, then any other type, alphabetically.
    pub(crate) fn content_counts(&self) -> Vec<(String, u64)> {
        let Some(content) = self.raw.get("content").and_then(Value::as_object) else {
            return Vec::new();
        };
        let order = ["actions", "rules", "sensors", "aliases", "triggers"];
        let mut kinds: Vec<&String> = content.keys().collect();
        kinds.sort_by_key(|kind| {
            (
                order
                    .iter()
                    .position(|known| known == kind)
                    .unwrap_or(order.len()),
                (*kind).clone(),
            )
        });
        kinds
            .into_iter()
            .filter_map(|kind| {
                let count = content[kind].get("count")?.as_u64()?;
                Some((kind.clone(), count))
            })
            .collect()
    }
}

/// Sort versions highest first: semver ones by precedence, then the others in their order.
pub(crate) fn sort_versions(versions: &mut [String]) {
    versions.sort_by(
        |a, b| match (semver::Version::parse(a), semver::Version::parse(b)) {
            (Ok(a), Ok(b)) => b.cmp(&a),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => std::cmp::Ordering::Equal,
        },
    );
}

/// How reading one index URL went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceOutcome {
    /// Read now.
    Fresh,
    /// Unreachable or invalid; the cached copy was used.
    Cached,
    /// Unusable, and no cached copy.
    Failed(String),
}

/// One index URL and what happened to it.
#[derive(Debug, Clone)]
pub(crate) struct SourceStatus {
    /// The URL.
    pub url: String,
    /// The outcome.
    pub outcome: SourceOutcome,
}

/// The merged indexes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    entries: Vec<IndexEntry>,
}

/// [`Index::load`]'s result: the index and what happened on the way.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The merged index.
    pub index: Index,
    /// Warnings to show (e.g. a cached copy was used).
    pub warnings: Vec<String>,
    /// Per URL outcome (the warnings say it to users; the tests check it).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tests"))]
    pub sources: Vec<SourceStatus>,
}

impl Index {
    /// Read every URL in order and merge them (the first index wins for a name).
    pub(crate) fn load(urls: &[String], options: &IndexOptions) -> Result<Loaded, IndexError> {
        let mut index = Index::default();
        let mut warnings = Vec::new();
        let mut sources = Vec::new();
        let mut any = false;
        let mut clients = fetch::Clients::default();
        for url in urls {
            // Local files need no offline copy; caching them would only cost a write.
            let is_remote = url.starts_with("http://") || url.starts_with("https://");
            let fetched = if options.offline && is_remote {
                Err("offline".to_string())
            } else {
                fetch(url, options, &mut clients)
            };
            let fetched = fetched.and_then(|bytes| {
                Index::from_json_slice(&bytes)
                    .map(|parsed| (parsed, bytes))
                    .map_err(|err| match err {
                        IndexError::Invalid { reason, .. } => reason,
                        other => other.to_string(),
                    })
            });
            let cache = options
                .cache_dir
                .as_deref()
                .filter(|_| is_remote)
                .map(|dir| cache_path(dir, url));
            let parsed = match fetched {
                Ok((parsed, bytes)) => {
                    if let Some(cache) = &cache {
                        if let Err(err) = crate::fs::write_atomic(cache, &bytes) {
                            tracing::debug!("could not cache index {url}: {err}");
                        }
                    }
                    sources.push(SourceStatus {
                        url: url.clone(),
                        outcome: SourceOutcome::Fresh,
                    });
                    parsed
                }
                Err(reason) => match cache.as_deref().and_then(read_cache) {
                    Some((parsed, age)) => {
                        if !options.offline {
                            warnings.push(format!(
                                "index {url} could not be read ({reason}); using the cached copy from {age}"
                            ));
                        }
                        sources.push(SourceStatus {
                            url: url.clone(),
                            outcome: SourceOutcome::Cached,
                        });
                        parsed
                    }
                    None => {
                        let reason = if options.offline {
                            "offline, and there is no cached copy (run once without --offline to \
                             make one)"
                                .to_string()
                        } else {
                            reason
                        };
                        warnings.push(format!("index {url} skipped: {reason}"));
                        sources.push(SourceStatus {
                            url: url.clone(),
                            outcome: SourceOutcome::Failed(reason),
                        });
                        continue;
                    }
                },
            };
            any = true;
            let mut parsed = parsed;
            for entry in &mut parsed.entries {
                entry.index_url = url.clone();
            }
            index.merge(parsed);
        }
        if !any {
            return Err(IndexError::NoResults {
                urls: urls.to_vec(),
                statuses: sources
                    .iter()
                    .map(|source| match &source.outcome {
                        SourceOutcome::Failed(reason) => format!("{}: {reason}", source.url),
                        _ => format!("{}: ok", source.url),
                    })
                    .collect(),
            });
        }
        Ok(Loaded {
            index,
            warnings,
            sources,
        })
    }

    /// Parse one index document.
    pub(crate) fn from_json_slice(bytes: &[u8]) -> Result<Index, IndexError> {
        let invalid = |reason: String| IndexError::Invalid {
            url: String::new(),
            reason,
        };
        let document: Value =
            serde_json::from_slice(bytes).map_err(|err| invalid(format!("invalid JSON: {err}")))?;
        let packs = match document.get("packs") {
            Some(Value::Object(packs)) => packs,
            Some(_) => return Err(invalid("\"packs\" is not an object".into())),
            None if document.is_object() => return Err(invalid("no \"packs\" key".into())),
            None => return Err(invalid("the document is not an object".into())),
        };
        let entries = packs
            .iter()
            .filter_map(|(key, value)| {
                let entry = IndexEntry::from_value(key, value);
                if entry.is_none() {
                    tracing::debug!("index entry {key:?} skipped: not an object with a repo_url");
                }
                entry
            })
            .collect();
        Ok(Index { entries })
    }

    fn merge(&mut self, other: Index) {
        for entry in other.entries {
            if self.get(&entry.key).is_none() {
                self.entries.push(entry);
            }
        }
    }

    /// The entry of exactly this name (its key in the index).
    pub(crate) fn get(&self, name: &str) -> Option<&IndexEntry> {
        self.entries.iter().find(|entry| entry.key == name)
    }

    /// Number of packs.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Up to five names close to `name`, closest first.
    pub(crate) fn suggest(&self, name: &str) -> Vec<String> {
        let wanted = name.to_lowercase();
        let mut scored: Vec<(f64, &str)> = self
            .entries
            .iter()
            .filter_map(|entry| {
                let candidate = entry.key.to_lowercase();
                let similarity = strsim::jaro_winkler(&wanted, &candidate);
                let contains = wanted.len() >= 3
                    && (candidate.contains(&wanted) || wanted.contains(&candidate));
                let score = if contains {
                    similarity.max(0.85)
                } else {
                    similarity
                };
                (score >= 0.8).then_some((score, entry.key.as_str()))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(5)
            .map(|(_, name)| name.to_string())
            .collect()
    }

    /// Entries matching `query` (case-insensitive substring) in any field but `repo_url` and
    /// `email`, as upstream searches: name matches first, then keyword matches, then matches in
    /// other fields (description, author, ...). Within a group: exact name, name prefix, then
    /// alphabetical.
    pub(crate) fn search(&self, query: &str) -> Vec<&IndexEntry> {
        let query = query.to_lowercase();
        let mut hits: Vec<((u8, u8, &str), &IndexEntry)> = Vec::new();
        for entry in &self.entries {
            let name = entry.key.to_lowercase();
            let group = if name.contains(&query) || entry.name.to_lowercase().contains(&query) {
                0
            } else if entry
                .keywords
                .iter()
                .any(|keyword| keyword.to_lowercase().contains(&query))
            {
                1
            } else if other_fields_match(&entry.raw, &query) {
                2
            } else {
                continue;
            };
            let closeness = if name == query {
                0
            } else if name.starts_with(&query) {
                1
            } else {
                2
            };
            hits.push(((group, closeness, entry.key.as_str()), entry));
        }
        hits.sort_by(|a, b| a.0.cmp(&b.0));
        hits.into_iter().map(|(_, entry)| entry).collect()
    }
}

fn other_fields_match(raw: &Value, query: &str) -> bool {
    let Some(map) = raw.as_object() else {
        return false;
    };
    map.iter()
        .filter(|(key, _)| !matches!(key.as_str(), "repo_url" | "email" | "name" | "keywords"))
        .any(|(_, value)| value_contains(value, query))
}

fn value_contains(value: &Value, query: &str) -> bool {
    match value {
        Value::String(text) => text.to_lowercase().contains(query),
        Value::Array(items) => items.iter().any(|item| value_contains(item, query)),
        Value::Object(map) => map.values().any(|item| value_contains(item, query)),
        Value::Number(number) => number.to_string().contains(query),
        _ => false,
    }
}

/// Where the last good copy of the index at `url` is kept in `dir`.
pub(crate) fn cache_path(dir: &Path, url: &str) -> PathBuf {
    let digest = Sha256::digest(url.as_bytes());
    dir.join(format!("index-{}.json", &hex::encode(digest)[..16]))
}

fn read_cache(path: &Path) -> Option<(Index, String)> {
    let bytes = std::fs::read(path).ok()?;
    let index = Index::from_json_slice(&bytes).ok()?;
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let age = jiff::Timestamp::try_from(modified)
        .map(|ts| ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| "an earlier run".into());
    Some((index, age))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(name: &str, versions: &[&str]) -> Value {
        json!({"name": name, "description": format!("{name} pack"), "version": versions[0],
               "versions": versions, "author": "a", "keywords": [format!("{name}kw")],
               "repo_url": format!("https://example.invalid/{name}"), "email": "x@twitter.example"})
    }

    fn document(entries: &[Value]) -> Vec<u8> {
        let mut packs = serde_json::Map::new();
        for entry in entries {
            packs.insert(entry["name"].as_str().unwrap().to_string(), entry.clone());
        }
        serde_json::to_vec(&json!({"metadata": {}, "packs": packs})).unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        format!("file://{}", path.display())
    }

    fn real_index() -> Option<Vec<u8>> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/exchange/index.json"))
            .ok()
    }

    #[test]
    fn versions_sort_as_semver() {
        let index = Index::from_json_slice(&document(&[entry(
            "p",
            &["1.2.0", "1.10.0", "0.9.0", "1.0.1-boto3", "weird"],
        )]))
        .unwrap();
        let p = index.get("p").unwrap();
        assert_eq!(p.default_version(), "1.10.0");
        assert_eq!(
            p.sorted_versions(),
            vec!["1.10.0", "1.2.0", "1.0.1-boto3", "0.9.0", "weird"]
        );
        assert!(p.has_version("v1.10.0") && p.has_version("1.2.0") && !p.has_version("2.0.0"));
    }

    #[test]
    fn first_index_wins_and_bad_ones_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(dir.path(), "a.json", &document(&[entry("p", &["1.0.0"])]));
        let second = write(
            dir.path(),
            "b.json",
            &document(&[entry("p", &["2.0.0"]), entry("q", &["1.0.0"])]),
        );
        let bad: Vec<String> = [&b"[]"[..], b"{}", b"not json", b"{\"packs\": []}"]
            .iter()
            .enumerate()
            .map(|(i, bytes)| write(dir.path(), &format!("bad{i}.json"), bytes))
            .collect();
        let mut urls = vec![bad[0].clone(), first, bad[1].clone(), second];
        urls.extend(bad[2..].iter().cloned());
        urls.push(format!("file://{}/missing.json", dir.path().display()));
        let loaded = Index::load(&urls, &IndexOptions::default()).unwrap();
        assert_eq!(loaded.index.get("p").unwrap().version, "1.0.0");
        assert_eq!(loaded.index.len(), 2);
        let failed = loaded
            .sources
            .iter()
            .filter(|s| matches!(s.outcome, SourceOutcome::Failed(_)))
            .count();
        assert_eq!(failed, 5);
        // Each skipped index is said, not only logged.
        assert_eq!(loaded.warnings.len(), 5, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].starts_with(&format!("index {} skipped: ", bad[0])));
    }

    #[test]
    fn no_results_names_every_url() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(dir.path(), "bad.json", b"{}");
        let err = Index::load(std::slice::from_ref(&bad), &IndexOptions::default()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("No results from the index: {bad}: ")),
            "{text}"
        );
        assert!(text.contains("no \"packs\" key"), "{text}");
        assert!(text.ends_with("or install from a git URL or a local directory"));
        assert!(!text.contains('\n'), "one line: {text}");
    }

    #[test]
    fn cache_is_used_when_the_server_is_gone_and_not_overwritten_by_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let options = IndexOptions {
            timeout: Duration::from_secs(2),
            ca_bundle: None,
            cache_dir: Some(dir.path().join("cache")),
            offline: false,
        };
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/index.json",
            server.server_addr().to_ip().unwrap()
        );
        let body = document(&[entry("p", &["1.0.0"])]);
        let handle = std::thread::spawn(move || {
            let request = server.recv().unwrap();
            request
                .respond(tiny_http::Response::from_data(body))
                .unwrap();
            let request = server.recv().unwrap();
            request
                .respond(tiny_http::Response::from_data(b"garbage".to_vec()))
                .unwrap();
        });
        let fresh = Index::load(std::slice::from_ref(&url), &options).unwrap();
        assert!(fresh.warnings.is_empty());
        let cached = Index::load(std::slice::from_ref(&url), &options).unwrap();
        assert!(
            cached.warnings[0].contains("using the cached copy"),
            "{:?}",
            cached.warnings
        );
        handle.join().unwrap();
        // Now nothing listens at all.
        let cached = Index::load(std::slice::from_ref(&url), &options).unwrap();
        assert_eq!(cached.index.get("p").unwrap().version, "1.0.0");
        assert_eq!(cached.sources[0].outcome, SourceOutcome::Cached);
        assert_eq!(cached.index.get("p").unwrap().index_url, url);
        // Offline: the copy, without a word; without a copy, the reason says so.
        let offline = IndexOptions {
            offline: true,
            ..options.clone()
        };
        let cached = Index::load(std::slice::from_ref(&url), &offline).unwrap();
        assert!(cached.warnings.is_empty(), "{:?}", cached.warnings);
        let other = format!("{}x", url);
        let err = Index::load(&[other], &offline).unwrap_err().to_string();
        assert!(
            err.contains("offline, and there is no cached copy"),
            "{err}"
        );
    }

    #[test]
    fn http_errors_and_hanging_servers_are_bounded() {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let addr = server.server_addr().to_ip().unwrap();
        let handle = std::thread::spawn(move || {
            let request = server.recv().unwrap();
            request
                .respond(tiny_http::Response::from_string("no").with_status_code(500))
                .unwrap();
            // Accept the next request and never answer it.
            let _hanging = server.recv().unwrap();
            std::thread::sleep(Duration::from_secs(3));
        });
        let options = IndexOptions {
            timeout: Duration::from_secs(1),
            ..IndexOptions::default()
        };
        let url = format!("http://{addr}/i.json");
        let err = Index::load(std::slice::from_ref(&url), &options).unwrap_err();
        assert!(err.to_string().contains("HTTP status 500"), "{err}");
        let started = std::time::Instant::now();
        let err = Index::load(std::slice::from_ref(&url), &options).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "{err}");
        assert!(err.to_string().contains("timed out"), "{err}");
        handle.join().unwrap();
    }

    #[test]
    fn suggestions_and_search_ranking() {
        let index = Index::from_json_slice(&document(&[
            entry("twitter", &["1.0.0"]),
            entry("twilio", &["1.0.0"]),
            json!({"name": "social", "description": "posts", "version": "1.0.0",
                   "keywords": ["twitter"], "repo_url": "u", "author": "a"}),
            json!({"name": "other", "description": "mentions Twitter", "version": "1.0.0",
                   "repo_url": "https://twitter.example", "author": "a"}),
        ]))
        .unwrap();
        assert_eq!(index.suggest("twiter")[0], "twitter");
        assert!(index.suggest("zzzzzz").is_empty());
        let names: Vec<&str> = index
            .search("TWITTER")
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, vec!["twitter", "social", "other"]);
        // repo_url and email are not searched.
        assert!(index.search("example").is_empty());
    }

    #[test]
    fn real_index_loads_and_searches() {
        let Some(bytes) = real_index() else {
            return crate::test_support::skip("../shared/exchange/index.json is not present");
        };
        let started = std::time::Instant::now();
        let index = Index::from_json_slice(&bytes).unwrap();
        let results = index.search("twitter");
        println!(
            "real index: {} packs, search in {:?}",
            index.len(),
            started.elapsed()
        );
        assert_eq!(index.len(), 169);
        assert_eq!(results[0].name, "twitter");
        assert_eq!(index.get("twitter").unwrap().default_version(), "1.0.0");
    }
}
