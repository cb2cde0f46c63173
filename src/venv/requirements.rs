//! What a pack's requirements ask for, read as pip reads them: the lines uv does not take
//! as pip does (those packs are installed with pip), and the base requirement (`six`) a pack
//! needs besides its `requirements.txt`.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

/// StackStorm installs `six` into every pack virtualenv (`BASE_PACK_REQUIREMENTS`), and many
/// Exchange packs import it without listing it. We install it when the pack's Python code
/// imports it and its requirements do not name it, sparing the other packs a package
/// download.
const SIX_REQUIREMENT: &str = "six>=1.9.0,<2.0";

/// The base requirements a pack needs besides its `requirements.txt`.
pub(crate) fn base_requirements(pack_dir: &Path, requirements: Option<&[u8]>) -> Vec<String> {
    let listed = requirements.is_some_and(|content| {
        String::from_utf8_lossy(content).lines().any(|line| {
            let name: String = line
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            name.eq_ignore_ascii_case("six")
        })
    });
    if listed || !imports_six(pack_dir) {
        return Vec::new();
    }
    vec![SIX_REQUIREMENT.to_string()]
}

fn imports_six(pack_dir: &Path) -> bool {
    walkdir::WalkDir::new(pack_dir)
        .max_depth(6)
        .into_iter()
        .filter_entry(|entry| {
            let name = entry.file_name().to_string_lossy();
            entry.depth() == 0 || !(name.starts_with('.') || name == "tests")
        })
        .filter_map(Result::ok)
        .filter(|entry| {
            entry.file_type().is_file() && entry.path().extension() == Some(OsStr::new("py"))
        })
        .any(|entry| {
            fs::read_to_string(entry.path()).is_ok_and(|text| {
                text.lines().any(|line| {
                    let line = line.trim_start();
                    line.starts_with("import six")
                        || line.starts_with("from six ")
                        || line.starts_with("from six.")
                })
            })
        })
}

/// A requirements line that uv does not install as pip does, so that the
/// pack's requirements go to pip (StackStorm installs them with `pip install
/// -r requirements.txt`).
///
/// Measured with uv 0.13 and pip 23 (`uv pip install -r` on each form):
/// uv refuses editable VCS requirements ("Git sources cannot be editable":
/// `-e git+https://...#egg=x`, in 5 Exchange packs), Mercurial, Subversion
/// and Bazaar URLs, `git://` URLs (`kayako`), per-requirement
/// `--global-option`, and `--install-option`/`--config-settings` lines; it
/// ignores `--pre`, `--trusted-host`, `--prefer-binary` and `--use-feature`
/// with a warning, which changes what gets installed. It takes environment
/// markers, `--hash`, `-i`/`--index-url`, `--extra-index-url`, `-f`,
/// `--no-binary`, `-c` and `-r` as pip does. Rewriting `-e git+URL` as a
/// plain `git+URL` for uv would install it too, but not as pip does (pip
/// keeps an editable checkout in `<venv>/src/`, and refuses an `#egg=` name
/// that does not match the package, which uv ignores): pip is what
/// StackStorm runs, so pip it is, for those packs only.
///
/// Follows `-r`/`-c` includes (relative to the including file). Returns
/// `file:line: text` of the first such line.
pub(crate) fn pip_only_requirement(requirements: &Path) -> Option<String> {
    let mut seen = Vec::new();
    pip_only_in(requirements, &mut seen)
}

fn pip_only_in(file: &Path, seen: &mut Vec<PathBuf>) -> Option<String> {
    if seen.len() > 32 || seen.iter().any(|s| s == file) {
        return None;
    }
    seen.push(file.to_path_buf());
    let text = fs::read_to_string(file).ok()?;
    for (number, line) in logical_lines(&text) {
        let found = || Some(format!("{}:{number}: {line}", file.display()));
        let (option, value) = split_option(&line);
        match option {
            Some("-e" | "--editable") => {
                let target = value.unwrap_or_default();
                if is_vcs_or_remote(target) {
                    return found();
                }
            }
            Some("-r" | "--requirement" | "-c" | "--constraint") => {
                let target = value.unwrap_or_default();
                if !target.contains("://") {
                    let path = file.parent().unwrap_or(Path::new(".")).join(target);
                    if let Some(inner) = pip_only_in(&path, seen) {
                        return Some(inner);
                    }
                }
            }
            Some(
                "--pre" | "--trusted-host" | "--prefer-binary" | "--use-feature"
                | "--install-option" | "--global-option" | "--config-settings",
            ) => return found(),
            Some(_) => {}
            None => {
                let lower = line.to_ascii_lowercase();
                if ["hg+", "svn+", "bzr+", "git+git://"]
                    .iter()
                    .any(|scheme| lower.contains(scheme))
                    || ["--global-option", "--install-option", "--config-settings"]
                        .iter()
                        .any(|option| lower.contains(option))
                {
                    return found();
                }
            }
        }
    }
    None
}

/// Lines of a requirements file as pip reads them: `\` continuations joined,
/// comments (`#` at the start or after whitespace) removed, blank lines
/// skipped; with the number of each line's first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (index, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = index + 1;
        }
        if let Some(joined) = raw.strip_suffix('\\') {
            current.push_str(joined);
            continue;
        }
        current.push_str(raw);
        let line = strip_comment(&current).trim().to_string();
        if !line.is_empty() {
            lines.push((start, line));
        }
        current.clear();
    }
    let line = strip_comment(&current).trim().to_string();
    if !line.is_empty() {
        lines.push((start, line));
    }
    lines
}

fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'#' && (index == 0 || bytes[index - 1].is_ascii_whitespace()) {
            return &line[..index];
        }
    }
    line
}

/// The option a line starts with and its value (`-e X`, `-eX`, `--editable=X`,
/// `--editable X`); `(None, None)` for a requirement.
fn split_option(line: &str) -> (Option<&str>, Option<&str>) {
    if !line.starts_with('-') {
        return (None, None);
    }
    let (head, rest) = match line.find(|c: char| c.is_whitespace() || c == '=') {
        Some(index) => (&line[..index], line[index + 1..].trim()),
        None => (line, ""),
    };
    let value = (!rest.is_empty()).then_some(rest);
    // Short options may carry their value attached: `-egit+https://...`.
    for short in ["-e", "-r", "-c"] {
        if let Some(attached) = head.strip_prefix(short).filter(|a| !a.is_empty()) {
            if !head.starts_with("--") {
                return (Some(short), Some(attached));
            }
        }
    }
    (Some(head), value)
}

/// A version-control URL (`git+https://...`) or a remote archive, as opposed
/// to a local directory.
fn is_vcs_or_remote(target: &str) -> bool {
    let lower = target.to_ascii_lowercase();
    let scheme = lower.split("://").next().unwrap_or("");
    lower.contains("://") && (scheme.contains('+') || !scheme.starts_with("file"))
        || ["git+", "hg+", "svn+", "bzr+"]
            .iter()
            .any(|prefix| lower.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venv::fingerprint::fingerprint;
    use crate::venv::interpreter::Interpreter;

    #[test]
    fn six_is_a_base_requirement_of_packs_that_import_it() {
        let dir = tempfile::tempdir().unwrap();
        let actions = dir.path().join("actions");
        fs::create_dir_all(&actions).unwrap();
        fs::write(actions.join("a.py"), "import json\n").unwrap();
        assert!(base_requirements(dir.path(), None).is_empty());
        fs::write(actions.join("b.py"), "from six.moves import StringIO\n").unwrap();
        assert_eq!(base_requirements(dir.path(), None), [SIX_REQUIREMENT]);
        assert_eq!(
            base_requirements(dir.path(), Some(b"requests\n")),
            [SIX_REQUIREMENT]
        );
        assert!(base_requirements(dir.path(), Some(b"six==1.16.0\n")).is_empty());
        // Base requirements change the fingerprint only when there are some.
        let interp = Interpreter {
            executable: "/usr/bin/python3".into(),
            resolved: "/usr/bin/python3".into(),
            version: "3.11".into(),
            has_venv: true,
        };
        assert_ne!(
            fingerprint(None, &[], &interp, &[], &[]).digest,
            fingerprint(None, &[SIX_REQUIREMENT.to_string()], &interp, &[], &[]).digest
        );
    }

    #[test]
    fn lines_uv_does_not_take_as_pip_does() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, text).unwrap();
            path
        };
        // What uv installs as pip does (the Exchange's other forms included).
        let fine = write(
            "fine.txt",
            "# comment\nrequests>=2.0  # trailing comment\ntld; python_version >= '3.0'\n\
             git+https://github.com/x/y.git@v1#egg=y\n-e ./localpkg\n-e file:///opt/pkg\n\
             -i https://pypi.org/simple\n--extra-index-url https://example.com/simple\n\
             six==1.16.0 \\\n    --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n\
             -f https://example.com/links\n--no-binary :all:\n-c sub/constraints.txt\n\
             name @ https://example.com/a.tar.gz\nx#egg=-e git+https://nothing\n",
        );
        write("sub/constraints.txt", "six<2\n");
        assert_eq!(pip_only_requirement(&fine), None);
        let cases = [
            "-e git+https://github.com/Kami/py-urbandict.git@stackstorm_patched#egg=urbandict",
            "--editable git+https://github.com/x/y#egg=y",
            "--editable=git+ssh://git@github.com/x/y#egg=y",
            "-egit+https://github.com/x/y#egg=y",
            "-e hg+https://hg.example.com/repo#egg=x",
            "svn+https://svn.example.com/repo#egg=x",
            "git+git://github.com/AntagonistHQ/python-api-library@a5a59eed#egg=kayako",
            "--pre",
            "--trusted-host example.com",
            "six --global-option=--foo",
        ];
        for (index, line) in cases.iter().enumerate() {
            let file = write(&format!("case{index}.txt"), &format!("six\n\n{line}\n"));
            let found = pip_only_requirement(&file).unwrap_or_default();
            assert!(found.ends_with(&format!(":3: {line}")), "{line}: {found:?}");
        }
        // Followed through includes, relative to the including file; cycles end.
        write(
            "inc/base.txt",
            "-r ../top.txt\n-e git+https://github.com/x/y#egg=y\n",
        );
        let top = write("top.txt", "six\n-r inc/base.txt\n");
        let found = pip_only_requirement(&top).unwrap();
        assert!(found.contains("base.txt:2: -e git+"), "{found}");
    }
}
