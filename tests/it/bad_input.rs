//! The bad-input corpus (`fixtures/bad/`, see its README) and hostile git repositories: each
//! case fails with one clear error and a non-zero exit (never a panic), installs nothing, and
//! writes nothing outside the StackStorm base path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;

fn bad_dir() -> PathBuf {
    fixtures_dir().join("bad")
}

/// The cases of `fixtures/bad/<kind>`: (case path, expected piece of the error).
fn cases(kind: &str) -> Vec<(PathBuf, String)> {
    let mut cases: Vec<(PathBuf, String)> = std::fs::read_dir(bad_dir().join(kind))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_none_or(|ext| ext != "expect"))
        .filter_map(|path| {
            let expect = PathBuf::from(format!("{}.expect", path.display()));
            let text = std::fs::read_to_string(expect).ok()?;
            Some((path, text.trim_end().to_string()))
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "fixtures/bad/{kind} has too few cases");
    cases
}

/// Every path under the temporary home except the base path (where st2 may write).
fn outside_base(home: &Home) -> BTreeSet<PathBuf> {
    walkdir::WalkDir::new(home.dir.path())
        .into_iter()
        .filter_entry(|entry| entry.path() != home.base)
        .map(|entry| entry.unwrap().path().to_path_buf())
        .collect()
}

/// A failure as users should see it: non-zero exit (not a panic's 101), an `error:` line
/// holding `expected`, no panic or backtrace.
fn assert_clean_failure(output: &Output, expected: &str, case: &str) {
    let err = stderr(output);
    let code = output.status.code();
    assert!(
        matches!(code, Some(1..=100)),
        "{case}: exit {code:?}\n{err}"
    );
    assert!(
        err.lines()
            .any(|line| line.starts_with("error:") && err.contains(expected)),
        "{case}: expected an error containing {expected:?}, got:\n{err}"
    );
    for bad in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!err.contains(bad), "{case}: {err}");
    }
}

/// Make a git repository of `files_from` at `path`.
fn repo_from(files_from: &Path, path: &Path) -> GitRepo {
    copy_tree(files_from, path);
    let repo = GitRepo::init(path);
    repo.commit_all("bad");
    repo
}

fn assert_nothing_installed(home: &Home) {
    assert!(home.installed().is_empty(), "{:?}", home.installed());
    let visible: Vec<_> = std::fs::read_dir(home.packs())
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    assert!(visible.is_empty(), "left in packs/: {visible:?}");
}

#[test]
fn malformed_packs_are_refused_with_one_clear_error() {
    let home = Home::new();
    let remotes = tempfile::tempdir().unwrap();
    let before = outside_base(&home);
    let cases = cases("packs");
    for (case, expected) in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let repo = repo_from(case, &remotes.path().join(name));
        let output = home
            .st2()
            .args(["pack", "install", &repo.url()])
            .output()
            .unwrap();
        assert_clean_failure(&output, expected, name);
    }
    assert_nothing_installed(&home);
    assert_eq!(outside_base(&home), before);
    println!("bad packs tried: {}", cases.len());
}

#[test]
fn malformed_configs_are_refused_and_not_stored() {
    let home = Home::new();
    let output = home
        .st2()
        .arg("pack")
        .arg("install")
        .arg(bad_dir().join("configs/pack"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let before = outside_base(&home);
    let mut cases = cases("configs");
    let huge = home.dir.path().join("huge.yaml");
    write_huge(&huge, "host: example.com\n", 17 << 20);
    cases.push((huge, "larger than 16 MiB".into()));
    for (case, expected) in &cases {
        std::fs::copy(case, home.config("cfg")).unwrap();
        let output = home
            .st2ctl()
            .args(["reload", "--register-configs"])
            .output()
            .unwrap();
        assert_clean_failure(&output, expected, &case.display().to_string());
        assert!(home.query("SELECT pack FROM configs").is_empty());
    }
    std::fs::remove_file(home.dir.path().join("huge.yaml")).unwrap();
    assert_eq!(outside_base(&home), before);
    println!("bad configs tried: {}", cases.len());
}

/// `text`, then comment lines up to `size` bytes.
fn write_huge(path: &Path, text: &str, size: usize) {
    let mut body = String::with_capacity(size + 100);
    body.push_str(text);
    let line = format!("#{}\n", "x".repeat(1000));
    while body.len() < size {
        body.push_str(&line);
    }
    std::fs::write(path, body).unwrap();
}

#[test]
fn hostile_indexes_are_refused_from_files_and_over_http() {
    let mut home = Home::new();
    let before = outside_base(&home);
    let cases = cases("index");
    let routes = cases
        .iter()
        .map(|(case, _)| {
            let name = case.file_name().unwrap().to_str().unwrap();
            (format!("/{name}"), 200, std::fs::read(case).unwrap())
        })
        .collect();
    let server = http_server(routes);
    let mut tried = 0;
    for (case, expected) in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        for url in [
            format!("file://{}", case.display()),
            server.url(&format!("/{name}")),
        ] {
            home.set_index_urls(std::slice::from_ref(&url));
            let output = home
                .st2()
                .args(["pack", "install", "good"])
                .output()
                .unwrap();
            assert_clean_failure(&output, expected, &url);
            tried += 1;
        }
    }
    // Bigger than any index could be: refused before it fills the memory.
    let huge = home.dir.path().join("huge.json");
    write_huge(&huge, "", 65 << 20);
    home.set_index_urls(&[format!("file://{}", huge.display())]);
    let output = home
        .st2()
        .args(["pack", "install", "good"])
        .output()
        .unwrap();
    assert_clean_failure(&output, "the index is larger than 64 MiB", "huge index");
    std::fs::remove_file(&huge).unwrap();
    tried += 1;

    assert_nothing_installed(&home);
    assert_eq!(outside_base(&home), before);
    assert!(!Path::new("/tmp/st2-rs-pwned").exists());
    println!("bad indexes tried: {tried}");
}

/// A pack repository with a good pack.yaml and action, then `hostile` applied to it.
fn hostile_repo(path: &Path, hostile: impl FnOnce(&Path)) -> GitRepo {
    pack_files(path, "hostile", "1.0.0", &["hello"]);
    let repo = GitRepo::init(path);
    hostile(path);
    repo.commit_all("hostile");
    repo
}

/// A commit whose tree has an entry named `entry` (`..`, `.git`): git refuses to make such a
/// tree from a work tree, so it is written with plumbing.
fn repo_with_tree_entry(path: &Path, entry: &str) -> GitRepo {
    let repo = hostile_repo(path, |_| {});
    let blob = git_stdin(path, &["hash-object", "-w", "--stdin"], "pwned\n");
    let inner = git_stdin(
        path,
        &["mktree"],
        &format!("100644 blob {blob}\tpost-checkout\n"),
    );
    let hooks = git_stdin(path, &["mktree"], &format!("040000 tree {inner}\thooks\n"));
    let mut listing = git(path, &["ls-tree", "HEAD"]);
    listing.push_str(&format!("\n040000 tree {hooks}\t{entry}\n"));
    let tree = git_stdin(path, &["mktree", "--missing"], &listing);
    let commit = git(path, &["commit-tree", &tree, "-m", "hostile tree"]);
    git(path, &["reset", "-q", "--soft", &commit]);
    repo
}

fn git_stdin(dir: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn hostile_git_repositories_are_refused_and_nothing_escapes() {
    let home = Home::new();
    let remotes = tempfile::tempdir().unwrap();
    let outside = remotes.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.yaml"), "name: stolen\n").unwrap();
    let before = outside_base(&home);
    let r = remotes.path();
    let outside_for_link = outside.clone();
    let cases: Vec<(&str, GitRepo, &str)> = vec![
        (
            "symlinked action file",
            hostile_repo(&r.join("link-file"), |path| {
                std::os::unix::fs::symlink("/etc/passwd", path.join("actions/evil.yaml")).unwrap()
            }),
            "actions/evil.yaml is a symlink to /etc/passwd, outside the pack",
        ),
        (
            "symlinked actions directory",
            hostile_repo(&r.join("link-dir"), move |path| {
                std::fs::remove_dir_all(path.join("actions")).unwrap();
                std::os::unix::fs::symlink(&outside_for_link, path.join("actions")).unwrap()
            }),
            "actions is a symlink to",
        ),
        (
            "relative symlink climbing out",
            hostile_repo(&r.join("link-up"), |path| {
                std::os::unix::fs::symlink("../outside/secret.yaml", path.join("config.yaml"))
                    .unwrap()
            }),
            "config.yaml is a symlink to ../outside/secret.yaml, outside the pack",
        ),
        (
            "submodule with a remote-helper URL",
            hostile_repo(&r.join("submodule"), |path| {
                let head = git(path, &["hash-object", "-w", "pack.yaml"]);
                git(
                    path,
                    &[
                        "update-index",
                        "--add",
                        "--cacheinfo",
                        &format!("160000,{head},lib"),
                    ],
                );
                write(
                    path,
                    ".gitmodules",
                    "[submodule \"lib\"]\n\tpath = lib\n\turl = ext::sh -c touch% /tmp/st2-rs-pwned\n",
                );
            }),
            ".gitmodules declares a git submodule",
        ),
        (
            "`..` in the tree",
            repo_with_tree_entry(&r.join("dotdot"), ".."),
            "invalid path '../hooks/post-checkout'",
        ),
        (
            "`.git` in the tree",
            repo_with_tree_entry(&r.join("dotgit"), ".git"),
            "invalid path '.git/hooks/post-checkout'",
        ),
        (
            "huge pack.yaml",
            hostile_repo(&r.join("huge"), |path| {
                let text = std::fs::read_to_string(path.join("pack.yaml")).unwrap();
                write_huge(&path.join("pack.yaml"), &text, 17 << 20);
            }),
            "pack.yaml: the file is larger than 16 MiB",
        ),
    ];
    for (case, repo, expected) in &cases {
        let output = home
            .st2()
            .args(["pack", "install", &repo.url()])
            .output()
            .unwrap();
        assert_clean_failure(&output, expected, case);
    }

    // Not git: a directory holding a FIFO (a naive copy would block on it forever).
    let fifo_pack = r.join("fifo");
    pack_files(&fifo_pack, "hostile", "1.0.0", &["hello"]);
    let fifo = std::ffi::CString::new(fifo_pack.join("pipe").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let output = home
        .st2()
        .arg("pack")
        .arg("install")
        .arg(&fifo_pack)
        .output()
        .unwrap();
    assert_clean_failure(
        &output,
        "is not a regular file, directory or symlink",
        "fifo",
    );

    assert_nothing_installed(&home);
    assert_eq!(outside_base(&home), before);
    assert!(!Path::new("/tmp/st2-rs-pwned").exists());
    let untouched = std::fs::read_to_string(outside.join("secret.yaml")).unwrap();
    assert_eq!(untouched, "name: stolen\n");
    println!("hostile repositories tried: {}", cases.len() + 1);
}
