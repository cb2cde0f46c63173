//! The pack lifecycle around `<base_path>/packs.lock` (issue 19): every install, update and
//! remove writes the lock; `st2 pack install --locked` reproduces the packs and their
//! virtualenvs in a second, empty home; `--offline` installs from the caches and names what
//! is missing; `st2 pack outdated` and `update` (pins, a killed update rolled back);
//! `st2 pack verify` finding changed files and virtualenvs; `st2 pack prune`; and the lock
//! file consistent with the packs after a kill at every failpoint and at random points.
//!
//! Nothing here reaches the internet: pack repositories are made by the tests (served by
//! `git http-backend` on 127.0.0.1 where the network matters), the index is a file or a
//! loopback server, and Python packages are wheels the tests build, served by a PEP 503
//! "simple" index on 127.0.0.1 (`PythonIndex`) and installed with uv (setup.sh installs it),
//! whose cache is under each home's base path.
//!
//! Not a port: StackStorm has no lock file, cache, outdated, update, verify or prune.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::*;
use crate::install_failures::python_pack;

/// `<base>/packs.lock`, parsed; `None` when there is none.
fn lock_of(home: &Home) -> Option<toml::Table> {
    let text = std::fs::read_to_string(home.base.join("packs.lock")).ok()?;
    Some(text.parse::<toml::Table>().expect("packs.lock is TOML"))
}

/// The lock's `[[pack]]` entries by ref.
fn locked(home: &Home) -> Vec<(String, toml::Table)> {
    let Some(lock) = lock_of(home) else {
        return Vec::new();
    };
    assert_eq!(lock["version"].as_integer(), Some(1));
    lock.get("pack")
        .and_then(|packs| packs.as_array())
        .map(|packs| {
            packs
                .iter()
                .map(|pack| {
                    let pack = pack.as_table().unwrap().clone();
                    (pack["ref"].as_str().unwrap().to_string(), pack)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn entry(home: &Home, pack_ref: &str) -> toml::Table {
    locked(home)
        .into_iter()
        .find(|(name, _)| name == pack_ref)
        .unwrap_or_else(|| panic!("{pack_ref} is not in packs.lock"))
        .1
}

fn text<'a>(table: &'a toml::Table, key: &str) -> &'a str {
    table
        .get(key)
        .and_then(|value| value.as_str())
        .unwrap_or_else(|| panic!("no {key} in {table:?}"))
}

fn st2(home: &Home, args: &[&str]) -> Output {
    home.st2().args(args).output().unwrap()
}

fn st2_ok(home: &Home, args: &[&str]) -> Output {
    let output = st2(home, args);
    assert!(
        output.status.success(),
        "{args:?}: {}{}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// Refs and versions of the packs st2 installed, as the store has them.
fn store_versions(home: &Home) -> Vec<(String, String)> {
    if !home.base.join("st2.db").exists() {
        return Vec::new();
    }
    let conn = rusqlite::Connection::open(home.base.join("st2.db")).unwrap();
    let mut statement = conn
        .prepare("SELECT ref, version FROM packs WHERE source IS NOT NULL ORDER BY ref")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The lock file says what the store and the disk say: every registered pack is locked at
/// its version, and every locked pack is installed at the locked version.
fn assert_lock_consistent(home: &Home, context: &str) {
    let lock: Vec<(String, String)> = locked(home)
        .iter()
        .map(|(name, entry)| (name.clone(), text(entry, "version").to_string()))
        .collect();
    assert_eq!(
        lock,
        store_versions(home),
        "{context}: lock and store differ"
    );
    for (name, version) in &lock {
        let manifest = std::fs::read_to_string(home.pack(name).join("pack.yaml"))
            .unwrap_or_else(|_| panic!("{context}: {name} is locked but not on disk"));
        assert!(
            manifest.contains(&format!("version: {version}")),
            "{context}: {name} on disk is not {version}"
        );
    }
}

/// A home whose index lists `demo` (1.0.0, 1.1.0) and `other` (0.1.0, 0.2.0) in local
/// repositories; `app` (1.0.0) depends on `demo=1.0.0`.
fn indexed_home() -> (Home, GitRepo, GitRepo) {
    let mut home = Home::new();
    let remotes = home.dir.path().join("remotes");
    let demo = GitRepo::pack(&remotes.join("demo"), "demo", &["1.0.0", "1.1.0"]);
    let other = GitRepo::pack(&remotes.join("other"), "other", &["0.1.0", "0.2.0"]);
    let app = GitRepo::init(&remotes.join("app"));
    pack_files(&app.path, "app", "1.0.0", &["go"]);
    let yaml = std::fs::read_to_string(app.path.join("pack.yaml")).unwrap();
    write(
        &app.path,
        "pack.yaml",
        &format!("{yaml}dependencies:\n  - core\n  - demo=1.0.0\n"),
    );
    app.commit_all("app");
    app.tag("v1.0.0");
    let index = index_json(&[
        ("demo", demo.url(), &["1.1.0", "1.0.0"]),
        ("other", other.url(), &["0.2.0", "0.1.0"]),
        ("app", app.url(), &["1.0.0"]),
    ]);
    home.set_index_urls(&[write_index(home.dir.path(), &index)]);
    (home, demo, other)
}

#[test]
fn every_install_update_and_remove_writes_the_lock() {
    let (home, demo, _) = indexed_home();
    assert!(lock_of(&home).is_none());
    st2_ok(&home, &["pack", "install", "app"]);
    // The dependency too, at the version asked, saying who pulled it in.
    let app = entry(&home, "app");
    assert_eq!(text(&app, "version"), "1.0.0");
    assert_eq!(text(&app, "source"), "index");
    assert_eq!(text(&app, "name"), "app");
    assert!(text(&app, "index").ends_with("/index.json"));
    assert!(text(&app, "tree").starts_with("sha256:"));
    assert_eq!(text(&app, "commit").len(), 40);
    assert!(app.get("requested").is_none());
    let dependencies: Vec<&str> = app["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(dependencies, ["core", "demo=1.0.0"]);
    let dep = entry(&home, "demo");
    assert_eq!(text(&dep, "version"), "1.0.0");
    assert_eq!(text(&dep, "dependency_of"), "app");
    assert_eq!(text(&dep, "url"), demo.url());
    assert_eq!(
        text(&dep, "commit"),
        git(&demo.path, &["rev-parse", "v1.0.0^{commit}"])
    );
    assert_lock_consistent(&home, "after install");

    // A git URL at a branch: asked for, resolved, and the commit.
    st2_ok(
        &home,
        &["pack", "install", &format!("{}=master", demo.url())],
    );
    let dep = entry(&home, "demo");
    assert_eq!(text(&dep, "source"), "git");
    assert_eq!(text(&dep, "requested"), "master");
    assert_eq!(text(&dep, "version"), "1.1.0");
    assert_eq!(text(&dep, "commit"), demo.head());
    assert_lock_consistent(&home, "after reinstall");

    let text_before = std::fs::read_to_string(home.base.join("packs.lock")).unwrap();
    assert!(text_before.starts_with("# The packs installed here, exactly."));
    st2_ok(&home, &["pack", "remove", "app"]);
    assert!(locked(&home).iter().all(|(name, _)| name != "app"));
    assert_lock_consistent(&home, "after remove");
    st2_ok(&home, &["pack", "remove", "demo"]);
    assert!(locked(&home).is_empty());
}

/// PEP 503's "simple" index of the wheels in a directory, on 127.0.0.1.
struct PythonIndex {
    server: LoopbackServer,
    wheels: PathBuf,
}

impl PythonIndex {
    fn start(wheels: &Path) -> PythonIndex {
        std::fs::create_dir_all(wheels).unwrap();
        let dir = wheels.to_path_buf();
        let server = LoopbackServer::start(move |request| {
            let url = request.url().to_string();
            let response = if let Some(file) = url.strip_prefix("/files/") {
                match std::fs::read(dir.join(file)) {
                    Ok(bytes) => tiny_http::Response::from_data(bytes),
                    Err(_) => tiny_http::Response::from_data(b"no".to_vec()).with_status_code(404),
                }
            } else if let Some(project) = url.strip_prefix("/simple/") {
                let project = project.trim_end_matches('/');
                let mut links = String::new();
                let mut names: Vec<String> = std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                    .collect();
                names.sort();
                for name in names {
                    if project.is_empty() || name.starts_with(&format!("{project}-")) {
                        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                            std::fs::read(dir.join(&name)).unwrap(),
                        ));
                        links.push_str(&format!(
                            "<a href=\"/files/{name}#sha256={sha}\">{name}</a>\n"
                        ));
                    }
                }
                tiny_http::Response::from_data(
                    format!("<html><body>\n{links}</body></html>\n").into_bytes(),
                )
                .with_header(tiny_http::Header::from_bytes("Content-Type", "text/html").unwrap())
            } else {
                tiny_http::Response::from_data(b"no".to_vec()).with_status_code(404)
            };
            let _ = request.respond(response);
        });
        PythonIndex {
            server,
            wheels: wheels.to_path_buf(),
        }
    }

    /// `[actionrunner] pip_opts` pointing the installers at this index.
    fn pip_opts(&self) -> String {
        format!(
            "[actionrunner]\npip_opts = --index-url, {}/simple/\n",
            self.server.base_url
        )
    }

    /// Publish `<name>-<version>`, a pure-Python wheel with a module `<name>` holding
    /// `VALUE = "<version>"`.
    fn publish(&self, name: &str, version: &str) {
        let script = r#"
import base64, hashlib, sys, zipfile
name, ver, out = sys.argv[1], sys.argv[2], sys.argv[3]
files = {
    "%s/__init__.py" % name: "VALUE = %r\n" % ver,
    "%s-%s.dist-info/METADATA" % (name, ver): "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, ver),
    "%s-%s.dist-info/WHEEL" % (name, ver): "Wheel-Version: 1.0\nGenerator: st2-rs-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = "%s-%s.dist-info/RECORD" % (name, ver)
lines = []
with zipfile.ZipFile(out, "w") as z:
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append("%s,sha256=%s,%d" % (path, digest, len(data)))
        z.writestr(path, data)
    lines.append(record + ",,")
    z.writestr(record, "\n".join(lines) + "\n")
"#;
        let out = self
            .wheels
            .join(format!("{name}-{version}-py3-none-any.whl"));
        let status = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .args([name, version])
            .arg(out)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// uv is needed (and `python3`): the Python tests skip without them (and fail in CI).
fn have_uv() -> bool {
    !skip_unless(
        on_path("uv") && on_path("python3"),
        "uv is not on PATH: run `. scripts/env.sh` (after scripts/setup.sh) first",
    )
}

/// A home that installs Python packages from `index` with uv.
fn python_home(index: &PythonIndex, index_url: Option<&str>) -> Home {
    let mut home = Home::new();
    home.set_extra_conf(&index.pip_opts());
    if let Some(url) = index_url {
        home.set_index_urls(&[url.to_string()]);
    }
    home
}

/// `python -c "import localpkg; print(localpkg.VALUE)"` in the pack's virtualenv.
fn imported(home: &Home, pack: &str) -> String {
    let output = std::process::Command::new(home.venv(pack).join("bin/python"))
        .args(["-c", "import localpkg; print(localpkg.VALUE)"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).trim().to_string()
}

/// A repository of the pack `pyp` (a Python action, `requirements.txt` asking for
/// `localpkg` at any version), tagged v1.0.0.
fn python_repo(dir: &Path) -> GitRepo {
    let repo = GitRepo::init(dir);
    python_pack(dir, "pyp", "1.0.0", Some("localpkg\n"));
    repo.commit_all("pyp");
    repo.tag("v1.0.0");
    repo
}

#[test]
fn a_locked_install_reproduces_packs_and_virtualenvs_in_an_empty_home() {
    if !have_uv() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let index = PythonIndex::start(&scratch.path().join("wheels"));
    index.publish("localpkg", "1.0");
    index.publish("localpkg", "2.0");
    let repo = python_repo(&scratch.path().join("remotes/pyp"));
    let plain = scratch.path().join("src/plain");
    pack_files(&plain, "plain", "0.3.0", &["one"]);
    let first = python_home(&index, None);
    st2_ok(
        &first,
        &["pack", "install", &repo.url(), plain.to_str().unwrap()],
    );
    assert_eq!(imported(&first, "pyp"), "2.0");
    let pyp = entry(&first, "pyp");
    let venv = pyp["virtualenv"].as_table().unwrap();
    assert_eq!(text(venv, "installer"), "uv");
    let packages = venv["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1, "{packages:?}");
    let localpkg = packages[0].as_table().unwrap();
    assert_eq!(
        (text(localpkg, "name"), text(localpkg, "version")),
        ("localpkg", "2.0")
    );
    assert!(text(localpkg, "hash").starts_with("sha256:"));
    assert_eq!(text(&entry(&first, "plain"), "source"), "directory");

    // Upstream moves on: a new commit (its requirements changed), a new localpkg.
    std::fs::write(repo.path.join("README.md"), "later\n").unwrap();
    std::fs::write(repo.path.join("requirements.txt"), "localpkg>=1.0\n").unwrap();
    repo.commit_all("later");
    index.publish("localpkg", "3.0");

    // A second, empty home with only the lock file: the same packs, commits, trees and
    // Python packages, and the same lock file, byte for byte.
    let second = python_home(&index, None);
    std::fs::create_dir_all(&second.base).unwrap();
    std::fs::copy(
        first.base.join("packs.lock"),
        second.base.join("packs.lock"),
    )
    .unwrap();
    let output = st2_ok(&second, &["pack", "install", "--locked"]);
    let err = stderr(&output);
    assert!(err.contains("(packs.lock)"), "{err}");
    assert_eq!(imported(&second, "pyp"), "2.0");
    assert_eq!(
        git(&second.pack("pyp"), &["rev-parse", "HEAD"]),
        text(&pyp, "commit")
    );
    assert!(!second.pack("pyp").join("README.md").exists());
    assert_eq!(
        std::fs::read_to_string(second.base.join("packs.lock")).unwrap(),
        std::fs::read_to_string(first.base.join("packs.lock")).unwrap()
    );
    st2_ok(&second, &["pack", "verify"]);

    // A plain install at the locked commit keeps the locked Python packages; an install of
    // the newer commit, whose requirements changed, resolves them again (3.0), and the lock
    // says so.
    st2_ok(
        &second,
        &["pack", "install", &format!("{}=v1.0.0", repo.url())],
    );
    assert_eq!(imported(&second, "pyp"), "2.0");
    st2_ok(&second, &["pack", "install", &repo.url()]);
    assert_eq!(imported(&second, "pyp"), "3.0");
    let venv = entry(&second, "pyp")["virtualenv"].clone();
    assert_eq!(
        venv["packages"][0]["version"].as_str(),
        Some("3.0"),
        "{venv:?}"
    );
}

#[test]
fn a_locked_install_that_cannot_be_reproduced_changes_nothing() {
    let (home, demo, _) = indexed_home();
    // No lock file yet.
    let output = st2(&home, &["pack", "install", "--locked"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("there is no") && stderr(&output).contains("packs.lock"),
        "{}",
        stderr(&output)
    );
    st2_ok(&home, &["pack", "install", "demo=1.0.0", "other"]);
    let output = st2(&home, &["pack", "install", "--locked", "nosuch"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("lists no pack \"nosuch\""),
        "{}",
        stderr(&output)
    );

    // Another home, whose copy of the lock was edited: the tree of demo's commit is not the
    // one locked. Nothing is installed, not even `other`, which could be.
    let mut second = Home::new();
    second.set_index_urls(&[]);
    std::fs::create_dir_all(&second.base).unwrap();
    let text = std::fs::read_to_string(home.base.join("packs.lock")).unwrap();
    let tree = text
        .lines()
        .find(|line| line.starts_with("tree = "))
        .unwrap()
        .to_string();
    let edited = text.replacen(&tree, "tree = \"sha256:0000\"", 1);
    std::fs::write(second.base.join("packs.lock"), &edited).unwrap();
    let output = st2(&second, &["pack", "install", "--locked"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("demo: does not match packs.lock: the files at commit"),
        "{err}"
    );
    assert!(err.contains("Nothing was installed"), "{err}");
    assert!(second.installed().is_empty());
    assert_eq!(
        std::fs::read_to_string(second.base.join("packs.lock")).unwrap(),
        edited
    );

    // A commit the repository does not have.
    let commit = git(&demo.path, &["rev-parse", "v1.0.0^{commit}"]);
    let missing = text.replace(&commit, "0123456789abcdef0123456789abcdef01234567");
    std::fs::write(second.base.join("packs.lock"), &missing).unwrap();
    let output = st2(&second, &["pack", "install", "--locked", "demo"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("\"0123456789abcdef0123456789abcdef01234567\" is not a valid"),
        "{}",
        stderr(&output)
    );
    assert!(second.installed().is_empty());
}

#[test]
fn offline_installs_use_the_caches_and_name_what_is_missing() {
    if !have_uv() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let python = PythonIndex::start(&scratch.path().join("wheels"));
    python.publish("localpkg", "1.0");
    // The pack repository and the index both over HTTP, on 127.0.0.1.
    let work = scratch.path().join("work/pyp");
    python_repo(&work);
    let served = scratch.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    git(
        &served,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            "stackstorm-pyp.git",
        ],
    );
    let git_server = git_http_server(&served);
    let repo_url = format!("{}/stackstorm-pyp.git", git_server.base_url);
    let index_doc =
        serde_json::to_vec(&index_json(&[("pyp", repo_url.clone(), &["1.0.0"])])).unwrap();
    let index_server = http_server(vec![("/index.json".into(), 200, index_doc)]);
    let index_url = index_server.url("/index.json");

    let warm = python_home(&python, Some(&index_url));
    st2_ok(&warm, &["pack", "install", "pyp"]);
    let lock = std::fs::read_to_string(warm.base.join("packs.lock")).unwrap();
    let cold = python_home(&python, Some(&index_url));
    std::fs::create_dir_all(&cold.base).unwrap();
    std::fs::write(cold.base.join("packs.lock"), &lock).unwrap();

    // Everything goes away: no index, no git server, no Python index.
    drop(index_server);
    drop(git_server);
    drop(python);

    // Warm caches: by name (the cached index, the cached repository, uv's cache) and from
    // the lock, nothing from the network.
    st2_ok(&warm, &["pack", "remove", "pyp"]);
    let output = st2_ok(&warm, &["pack", "install", "--offline", "pyp"]);
    assert!(
        !stderr(&output).contains("could not be read"),
        "{}",
        stderr(&output)
    );
    assert_eq!(imported(&warm, "pyp"), "1.0");
    st2_ok(&warm, &["pack", "remove", "pyp"]);
    std::fs::write(warm.base.join("packs.lock"), &lock).unwrap();
    st2_ok(&warm, &["pack", "install", "--locked", "--offline"]);
    assert_eq!(imported(&warm, "pyp"), "1.0");
    // With the lock and warm caches, even without --offline nothing is asked of a network
    // that is not there.
    st2_ok(&warm, &["pack", "remove", "pyp"]);
    std::fs::write(warm.base.join("packs.lock"), &lock).unwrap();
    st2_ok(&warm, &["pack", "install", "--locked"]);
    assert_eq!(imported(&warm, "pyp"), "1.0");

    // Cold caches: each thing missing is named, nothing is installed.
    let output = st2(&cold, &["pack", "install", "--offline", "pyp"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "error: No results from the index: {index_url}: offline, and there is no cached copy"
        )),
        "{err}"
    );
    let output = st2(&cold, &["pack", "install", "--locked", "--offline"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "offline, and the git cache has no copy of {repo_url} at commit"
        )),
        "{err}"
    );
    // The repository cached, the Python packages not: those are named.
    copy_tree(&warm.base.join("cache/git"), &cold.base.join("cache/git"));
    let output = st2(&cold, &["pack", "install", "--locked", "--offline"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains(
            "pyp: virtualenv: offline, and the Python packages localpkg==1.0 are not in uv's \
             cache; run the install once without --offline to fill it"
        ),
        "{err}"
    );
    assert!(cold.installed().is_empty());
    assert!(!cold.venv("pyp").exists());
}

#[test]
fn outdated_and_update_follow_pins_and_dependencies_and_a_killed_update_rolls_back() {
    let (home, demo, other) = indexed_home();
    st2_ok(&home, &["pack", "install", "demo=1.0.0", "other"]);
    // Back to 0.1.0, pinned there.
    st2_ok(&home, &["pack", "install", "other=0.1.0"]);
    let outdated: Value =
        serde_json::from_slice(&st2_ok(&home, &["pack", "outdated", "-j"]).stdout).unwrap();
    let row = |name: &str| {
        outdated
            .as_array()
            .unwrap()
            .iter()
            .find(|pack| pack["ref"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(row("demo")["installed"], "1.0.0");
    assert_eq!(row("demo")["newest"], "1.1.0");
    assert_eq!(row("demo")["compatible"], "1.1.0");
    // demo was installed as demo=1.0.0: pinned.
    assert_eq!(row("demo")["pinned"], true);
    assert_eq!(row("other")["status"], "pinned");

    // --all leaves pinned packs; named, they move, and their pin with them.
    let output = st2_ok(&home, &["pack", "update", "--all"]);
    assert!(
        stdout(&output).contains("pinned; 1.1.0 is available"),
        "{}",
        stdout(&output)
    );
    assert_eq!(text(&entry(&home, "demo"), "version"), "1.0.0");

    // Killed after writing the lock, before registering: the next command rolls the packs
    // and the lock back.
    let output = home
        .st2()
        .env("ST2_FAILPOINT", "install-after-lock")
        .args(["pack", "update", "demo", "other"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        None,
        "not killed: {}",
        stderr(&output)
    );
    assert_eq!(text(&entry(&home, "demo"), "version"), "1.1.0");
    let output = st2_ok(&home, &["pack", "list"]);
    assert!(
        stderr(&output).contains("demo: rolled back an install that was interrupted"),
        "{}",
        stderr(&output)
    );
    assert_lock_consistent(&home, "after the rollback");
    assert_eq!(text(&entry(&home, "demo"), "version"), "1.0.0");
    assert_eq!(text(&entry(&home, "other"), "version"), "0.1.0");

    let output = st2_ok(&home, &["pack", "update", "demo", "other", "-j"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["updated"][0]["ref"], "demo");
    assert_eq!(report["updated"][0]["to"], "1.1.0");
    assert_eq!(report["updated"][1]["to"], "0.2.0");
    assert_eq!(text(&entry(&home, "demo"), "requested"), "1.1.0");
    assert_lock_consistent(&home, "after the update");

    // app needs demo=1.0.0: installing it is a conflict now; with demo back at 1.0.0 it
    // installs, and demo is then held back by it.
    st2_ok(&home, &["pack", "install", "demo=1.0.0"]);
    st2_ok(&home, &["pack", "install", "app"]);
    let output = st2_ok(&home, &["pack", "outdated", "demo"]);
    assert!(
        stderr(&output).contains("demo: app depends on version 1.0.0"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("| demo | 1.0.0     | 1.1.0  | 1.0.0"),
        "{}",
        stdout(&output)
    );
    let output = st2_ok(&home, &["pack", "update", "demo"]);
    assert!(
        stdout(&output).contains("up to date (app depends on version 1.0.0)"),
        "{}",
        stdout(&output)
    );

    // A pack that follows a branch moves to its tip.
    st2_ok(&home, &["pack", "install", &other.url()]);
    std::fs::write(other.path.join("NEWS"), "news\n").unwrap();
    let tip = other.commit_all("news");
    let output = st2_ok(&home, &["pack", "outdated", "other"]);
    assert!(
        stdout(&output).contains(&format!("master@{}", &tip[..7])),
        "{}",
        stdout(&output)
    );
    st2_ok(&home, &["pack", "update", "other"]);
    assert_eq!(text(&entry(&home, "other"), "commit"), tip);
    assert!(entry(&home, "other").get("requested").is_none());
    let _ = demo;

    // Offline, outdated reads the caches; an unknown pack is an error naming the installed.
    st2_ok(&home, &["pack", "outdated", "--offline"]);
    let output = st2(&home, &["pack", "outdated", "nosuch"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("pack \"nosuch\" is not installed (installed: app, demo, other)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn verify_finds_changed_files_and_virtualenvs() {
    let (home, _, _) = indexed_home();
    st2_ok(&home, &["pack", "install", "demo", "other"]);
    st2_ok(&home, &["pack", "verify"]);
    let dir = home.pack("demo");
    std::fs::write(
        dir.join("actions/hello.yaml"),
        "---\nname: hello\nrunner_type: noop\n",
    )
    .unwrap();
    std::fs::write(dir.join("actions/extra.sh"), "echo\n").unwrap();
    std::fs::remove_file(dir.join("pack.yaml")).unwrap();
    // Not pack files: the clone's .git and a pack-local config.
    std::fs::write(dir.join("config.yaml"), "mine: 1\n").unwrap();
    git(&dir, &["tag", "mine"]);
    let output = st2(&home, &["pack", "verify"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "demo             1.1.0      drift\n  modified  actions/hello.yaml\n  added     \
         actions/extra.sh\n  removed   pack.yaml\nother            0.2.0      ok\n"
    );
    assert!(
        stderr(&output).contains("2 packs verified: 1 not as packs.lock says."),
        "{}",
        stderr(&output)
    );
    // Put back as locked.
    st2_ok(&home, &["pack", "install", "--locked", "demo"]);
    st2_ok(&home, &["pack", "verify", "demo"]);

    // A pack the lock lists that is gone; one installed that it does not list.
    std::fs::remove_dir_all(home.pack("other")).unwrap();
    let lock = std::fs::read_to_string(home.base.join("packs.lock")).unwrap();
    let trimmed = {
        let start = lock.find("[[pack]]\nref = \"demo\"").unwrap();
        let end = lock[start + 1..]
            .find("[[pack]]")
            .map(|at| start + 1 + at)
            .unwrap();
        format!("{}{}", &lock[..start], &lock[end..])
    };
    std::fs::write(home.base.join("packs.lock"), trimmed).unwrap();
    let output = st2(&home, &["pack", "verify", "-j"]);
    assert_eq!(output.status.code(), Some(1));
    let results: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results[0]["ref"], "demo");
    assert_eq!(results[0]["status"], "not locked");
    assert_eq!(results[1]["ref"], "other");
    assert_eq!(results[1]["status"], "missing");
}

#[test]
fn verify_finds_a_changed_virtualenv() {
    if !have_uv() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let index = PythonIndex::start(&scratch.path().join("wheels"));
    index.publish("localpkg", "1.0");
    let repo = python_repo(&scratch.path().join("remotes/pyp"));
    let home = python_home(&index, None);
    st2_ok(&home, &["pack", "install", &repo.url()]);
    st2_ok(&home, &["pack", "verify"]);
    let site = std::fs::read_dir(home.venv("pyp").join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages");
    std::fs::write(site.join("localpkg/__init__.py"), "VALUE = 'patched'\n").unwrap();
    let output = st2(&home, &["pack", "verify"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains(
            "  virtualenv: localpkg/__init__.py was changed since localpkg==1.0 was installed"
        ),
        "{}",
        stdout(&output)
    );
    // Another version in its place.
    index.publish("localpkg", "2.0");
    let status = std::process::Command::new("uv")
        .args(["pip", "install", "-q", "--python"])
        .arg(home.venv("pyp").join("bin/python"))
        .args(["--index-url", &format!("{}/simple/", index.server.base_url)])
        .arg("localpkg==2.0")
        .env("UV_CACHE_DIR", scratch.path().join("uv"))
        .status()
        .unwrap();
    assert!(status.success());
    let output = st2(&home, &["pack", "verify"]);
    assert!(
        stdout(&output).contains("virtualenv: localpkg 2.0 is installed, packs.lock has 1.0"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn prune_lists_asks_and_removes_only_what_no_pack_needs() {
    let (home, _, other) = indexed_home();
    st2_ok(&home, &["pack", "install", "demo", "other"]);
    home.write_config("demo", "a: 1\n");
    home.write_config("gone", "a: 1\n");
    std::fs::create_dir_all(home.venv("gone").join("bin")).unwrap();
    std::fs::write(home.venv("gone").join("bin/python"), "").unwrap();
    // `other` removed: its git cache stays until pruned, as its config would.
    st2_ok(&home, &["pack", "remove", "other"]);
    home.write_config("other", "a: 1\n");
    // An index no longer configured leaves its copy.
    let old_index = home.base.join("cache/index-0123456789abcdef.json");
    std::fs::write(&old_index, "{}").unwrap();

    let plan: Value =
        serde_json::from_slice(&st2_ok(&home, &["pack", "prune", "-j"]).stdout).unwrap();
    let planned: Vec<(String, String)> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let path = PathBuf::from(item["path"].as_str().unwrap());
            (
                item["kind"].as_str().unwrap().to_string(),
                path.strip_prefix(&home.base).unwrap().display().to_string(),
            )
        })
        .collect();
    let other_cache = planned
        .iter()
        .find(|(kind, _)| kind == "git cache")
        .map(|(_, path)| path.clone())
        .expect("other's cached repository");
    assert!(other_cache.starts_with("cache/git/other-"), "{other_cache}");
    assert_eq!(
        planned,
        vec![
            ("virtualenv".to_string(), "virtualenvs/gone".to_string()),
            ("config".to_string(), "configs/gone.yaml".to_string()),
            ("config".to_string(), "configs/other.yaml".to_string()),
            ("git cache".to_string(), other_cache.clone()),
            (
                "index cache".to_string(),
                "cache/index-0123456789abcdef.json".to_string()
            ),
        ]
    );

    // Asked, and the answer is no: nothing goes.
    let output = home
        .st2()
        .args(["pack", "prune"])
        .write_stdin("n\n")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(
        stderr(&output).contains("Remove these 5 items ("),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("Nothing was removed."),
        "{}",
        stderr(&output)
    );
    assert!(home.venv("gone").exists());

    let output = home
        .st2()
        .args(["pack", "prune"])
        .write_stdin("y\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Removed 5 items"),
        "{}",
        stderr(&output)
    );
    assert!(!home.venv("gone").exists());
    assert!(!home.config("gone").exists() && !home.config("other").exists());
    assert!(!home.base.join(&other_cache).exists());
    assert!(!old_index.exists());
    // What installed packs use stays.
    assert!(home.config("demo").exists());
    assert_eq!(home.installed(), vec!["demo"]);
    assert_eq!(
        std::fs::read_dir(home.base.join("cache/git"))
            .unwrap()
            .filter(|entry| entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "git"))
            .count(),
        1
    );
    let output = st2_ok(&home, &["pack", "prune", "--yes"]);
    assert!(
        stderr(&output).contains("Nothing to prune."),
        "{}",
        stderr(&output)
    );
    // A locked pack that is not installed keeps its config (it may be installed next).
    st2_ok(&home, &["pack", "install", &other.url()]);
    std::fs::remove_dir_all(home.pack("other")).unwrap();
    st2_ok(&home, &["pack", "list"]);
    home.write_config("other", "a: 1\n");
    let plan: Value =
        serde_json::from_slice(&st2_ok(&home, &["pack", "prune", "-j"]).stdout).unwrap();
    assert!(
        plan.as_array()
            .unwrap()
            .iter()
            .all(|item| !item["path"].as_str().unwrap().ends_with("other.yaml")),
        "{plan}"
    );
}

/// Kill `args` at `failpoint` (debug builds kill themselves there).
fn killed_at(home: &Home, failpoint: &str, args: &[&str]) {
    let output = home
        .st2()
        .env("ST2_FAILPOINT", failpoint)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        None,
        "{failpoint}: not killed: {}",
        stderr(&output)
    );
}

#[test]
fn the_lock_and_the_packs_agree_after_a_kill_at_each_failpoint() {
    let (home, _, _) = indexed_home();
    st2_ok(&home, &["pack", "install", "demo=1.0.0"]);
    for failpoint in [
        "install-after-venv-swap",
        "install-after-swap",
        "install-after-lock",
        "install-after-register",
    ] {
        killed_at(
            &home,
            failpoint,
            &["pack", "install", "demo=1.1.0", "other"],
        );
        st2_ok(&home, &["pack", "list"]);
        assert_lock_consistent(&home, failpoint);
        let demo = text(&entry(&home, "demo"), "version").to_string();
        let expected = if failpoint == "install-after-register" {
            "1.1.0"
        } else {
            "1.0.0"
        };
        assert_eq!(demo, expected, "{failpoint}");
        // All or none: other with demo.
        assert_eq!(
            locked(&home).iter().any(|(name, _)| name == "other"),
            failpoint == "install-after-register",
            "{failpoint}"
        );
        st2_ok(&home, &["pack", "install", "demo=1.0.0"]);
        let _ = st2(&home, &["pack", "remove", "other"]);
    }
    // A removal killed before it unregistered is put back; after, it is finished.
    killed_at(&home, "remove-after-move", &["pack", "remove", "demo"]);
    let output = st2_ok(&home, &["pack", "list"]);
    assert!(
        stderr(&output).contains("demo: put back a removal"),
        "{}",
        stderr(&output)
    );
    assert_lock_consistent(&home, "remove-after-move");
    assert_eq!(home.installed(), vec!["demo"]);
    killed_at(
        &home,
        "remove-after-unregister",
        &["pack", "remove", "demo"],
    );
    assert!(locked(&home).iter().any(|(name, _)| name == "demo"));
    st2_ok(&home, &["pack", "list"]);
    assert_lock_consistent(&home, "remove-after-unregister");
    assert!(locked(&home).is_empty());
    assert!(home.installed().is_empty());
    let leftovers: Vec<String> = std::fs::read_dir(home.packs())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn lock_and_packs_agree_after_kills_at_random_points() {
    let (home, _, _) = indexed_home();
    let started = std::time::Instant::now();
    st2_ok(&home, &["pack", "install", "demo=1.0.0", "other=0.1.0"]);
    let span = started.elapsed().as_micros() as usize + 1;
    let mut rng = Rng::from_env();
    let commands: [&[&str]; 4] = [
        &["pack", "install", "demo=1.1.0", "other=0.2.0"],
        &["pack", "install", "demo=1.0.0", "other=0.1.0"],
        &["pack", "update", "demo", "other"],
        &["pack", "remove", "other"],
    ];
    for round in 0..30 {
        let args = rng.pick(&commands);
        let mut child = home.spawn_st2(args);
        std::thread::sleep(std::time::Duration::from_micros(rng.below(span) as u64));
        let _ = child.kill();
        let _ = child.wait();
        st2_ok(&home, &["pack", "list"]);
        assert_lock_consistent(&home, &format!("round {round} ({args:?})"));
    }
    st2_ok(&home, &["pack", "install", "--locked"]);
    st2_ok(&home, &["pack", "verify"]);
}
