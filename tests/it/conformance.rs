//! Conformance against the real Exchange: every pack of `../shared/exchange/packs` is made
//! into a local git repository (tagged `v<index version>` where upstream has that tag), an
//! index pointing at them is written, and each is installed by name, as a user would.
//!
//! Packs that fail must fail for the reason the README's compatibility notes give: the test
//! compares the failures with that list, so a regression or an unexplained failure shows up.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::*;

/// Packs expected to fail, with the message their failure must contain (see README,
/// "Compatibility notes").
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    // Upstream has no tag for the index version: StackStorm fails the same way.
    (
        "acos",
        "\"1.10.0\" is not a valid version, hash, tag or branch",
    ),
    (
        "elasticsearch",
        "\"2.0.1\" is not a valid version, hash, tag or branch",
    ),
    (
        "vcd",
        "\"1.0.2\" is not a valid version, hash, tag or branch",
    ),
    // Deprecated upstream: the repository has no pack.yaml.
    (
        "ghost2logger",
        "Pack is missing a manifest file (pack.yaml).",
    ),
    // python_versions: ["2"] only.
    ("network_essentials", "requires Python 2.x"),
    ("nsx_vtep", "requires Python 2.x"),
    ("vdx", "requires Python 2.x"),
    ("vdx_vtep", "requires Python 2.x"),
];

struct ManifestRow {
    name: String,
    index_version: String,
    tagged: bool,
}

fn manifest_rows(exchange: &Path) -> Vec<ManifestRow> {
    let text = std::fs::read_to_string(exchange.join("manifest.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (name, version, tag) = (column("name"), column("index_version"), column("tag_form"));
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            ManifestRow {
                name: fields[name].to_string(),
                index_version: fields[version].to_string(),
                tagged: fields[tag] == "v",
            }
        })
        .collect()
}

/// Copy a pack's files into a new git repository and commit (and tag) them.
fn make_remote(source: &Path, target: &Path, tag: Option<&str>) -> GitRepo {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(source)
        .arg(target)
        .status()
        .unwrap();
    assert!(status.success());
    let repo = GitRepo::init(target);
    repo.commit_all("import from the Exchange snapshot");
    if let Some(tag) = tag {
        repo.tag(tag);
    }
    repo
}

#[test]
fn every_exchange_pack_installs_by_name_or_fails_as_documented() {
    let exchange = shared_dir().join("exchange");
    if skip_unless(
        exchange.join("manifest.tsv").is_file(),
        "../shared/exchange is not present (the shared test data beside the repository)",
    ) {
        return;
    }
    let mut home = Home::new();
    let remotes = home.dir.path().join("remotes");
    std::fs::create_dir_all(&remotes).unwrap();
    let rows = manifest_rows(&exchange);
    let mut index: Value =
        serde_json::from_slice(&std::fs::read(exchange.join("index.json")).unwrap()).unwrap();
    let packs = index["packs"].as_object_mut().unwrap();
    packs.retain(|name, _| rows.iter().any(|row| &row.name == name));
    for row in &rows {
        let tag = row.tagged.then(|| format!("v{}", row.index_version));
        let repo = make_remote(
            &exchange.join("packs").join(&row.name),
            &remotes.join(format!("stackstorm-{}", row.name)),
            tag.as_deref(),
        );
        packs.get_mut(&row.name).unwrap()["repo_url"] = Value::String(repo.url());
    }
    let url = write_index(home.dir.path(), &index);
    home.set_index_urls(&[url]);

    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let mut actions = 0u64;
    for row in &rows {
        let output = home
            .st2()
            .args(["pack", "install", "--skip-virtualenv", "-j", &row.name])
            .output()
            .unwrap();
        if output.status.success() {
            let installed: Value = serde_json::from_slice(&output.stdout).unwrap();
            for pack in installed.as_array().unwrap() {
                actions += pack["content"]["actions"].as_u64().unwrap_or(0);
            }
        } else {
            let message = stderr(&output)
                .lines()
                .find(|line| line.starts_with("error:"))
                .unwrap_or("(no error line)")
                .to_string();
            failures.insert(row.name.clone(), message);
        }
    }
    let installed = home.installed();
    println!(
        "conformance: {} of {} Exchange packs installed and registered cleanly ({} actions); {} failed:",
        rows.len() - failures.len(),
        rows.len(),
        actions,
        failures.len()
    );
    for (name, message) in &failures {
        println!("  {name}: {message}");
    }

    let mut problems = Vec::new();
    for (name, message) in &failures {
        match EXPECTED_FAILURES
            .iter()
            .find(|(expected, _)| expected == name)
        {
            Some((_, reason)) if message.contains(reason) => {}
            Some((_, reason)) => problems.push(format!(
                "{name} failed, but not with \"{reason}\": {message}"
            )),
            None => problems.push(format!("{name} failed unexpectedly: {message}")),
        }
    }
    for (name, _) in EXPECTED_FAILURES {
        if !failures.contains_key(*name) {
            problems.push(format!("{name} was expected to fail but installed"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every pack that installed is registered (dependencies like `core` are built in).
    assert_eq!(installed.len(), rows.len() - failures.len());
}

#[test]
fn registering_every_exchange_pack_in_place() {
    let packs = shared_dir().join("exchange/packs");
    if skip_unless(
        packs.is_dir(),
        "../shared/exchange is not present (the shared test data beside the repository)",
    ) {
        return;
    }
    let mut home = Home::new();
    home.set_extra_conf(&format!(
        "[content]\npacks_base_paths = {}\n",
        packs.display()
    ));
    let output = home
        .st2ctl()
        .args(["reload", "--register-no-fail-on-failure", "-j"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let registered = report["packs"].as_array().unwrap().len();
    let failures = report["failures"].as_array().unwrap();
    println!(
        "registration: {registered} packs, {} actions registered in place; {} failures",
        report["counts"]["actions"],
        failures.len()
    );
    for failure in failures {
        println!("  {}", failure.as_str().unwrap());
    }
    // ghost2logger has no pack.yaml, so it is not a pack directory at all; network_essentials
    // has 5 mistral-v2 actions, a runner StackStorm 3.x no longer has: with
    // --register-no-fail-on-failure its other files are registered, as StackStorm does.
    assert_eq!(registered, 118, "{failures:?}");
    assert_eq!(failures.len(), 5, "{failures:?}");
    for failure in failures {
        let failure = failure.as_str().unwrap();
        assert!(
            failure
                .contains("from pack \"network_essentials\": RunnerType mistral-v2 is not found"),
            "{failure}"
        );
    }
}
