//! What `remote-shell-script` copies to each host, as one tar archive that the remote side
//! unpacks with `tar` (upstream copies the same files over SFTP: the script with mode 0744,
//! then the action's `lib/` directory beside it with its files' modes,
//! `remote_script_runner.py` `_copy_artifacts`). The archive is POSIX ustar, which every
//! `tar` reads (GNU, busybox, BSD).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// ustar's block size.
const BLOCK: usize = 512;

/// An archive being built.
#[derive(Debug, Default)]
pub(crate) struct Archive {
    bytes: Vec<u8>,
}

impl Archive {
    /// An empty archive.
    pub(crate) fn new() -> Archive {
        Archive::default()
    }

    /// Add a file with `mode` under `name` (relative, `/`-separated).
    pub(crate) fn add_file(
        &mut self,
        name: &str,
        mode: u32,
        mtime: u64,
        data: &[u8],
    ) -> Result<(), String> {
        self.header(name, mode, mtime, data.len() as u64, b'0')?;
        self.bytes.extend_from_slice(data);
        let padding = (BLOCK - data.len() % BLOCK) % BLOCK;
        self.bytes.resize(self.bytes.len() + padding, 0);
        Ok(())
    }

    /// Add a directory entry.
    pub(crate) fn add_dir(&mut self, name: &str, mode: u32, mtime: u64) -> Result<(), String> {
        self.header(
            &format!("{}/", name.trim_end_matches('/')),
            mode,
            mtime,
            0,
            b'5',
        )
    }

    /// Add the directory `dir` and everything under it as `name/...`, with their modes
    /// (symbolic links followed, as upstream's `put` reads them).
    pub(crate) fn add_tree(&mut self, dir: &Path, name: &str) -> Result<(), String> {
        for entry in walkdir::WalkDir::new(dir)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
            let relative = entry
                .path()
                .strip_prefix(dir)
                .map_err(|_| format!("{} is outside {}", entry.path().display(), dir.display()))?;
            let mut entry_name = name.to_string();
            for part in relative.components() {
                entry_name.push('/');
                entry_name.push_str(&part.as_os_str().to_string_lossy());
            }
            let metadata = entry
                .metadata()
                .map_err(|err| format!("cannot read {}: {err}", entry.path().display()))?;
            let mode = metadata.permissions().mode() & 0o7777;
            let mtime = mtime_of(&metadata);
            if metadata.is_dir() {
                self.add_dir(&entry_name, mode, mtime)?;
            } else if metadata.is_file() {
                let data = std::fs::read(entry.path()).map_err(|err| {
                    format!(
                        "cannot read {}: {}",
                        entry.path().display(),
                        crate::settings::io_reason(&err)
                    )
                })?;
                self.add_file(&entry_name, mode, mtime, &data)?;
            }
        }
        Ok(())
    }

    /// The archive, with its two closing zero blocks.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.bytes.resize(self.bytes.len() + 2 * BLOCK, 0);
        self.bytes
    }

    fn header(
        &mut self,
        name: &str,
        mode: u32,
        mtime: u64,
        size: u64,
        kind: u8,
    ) -> Result<(), String> {
        let (prefix, name_part) = split_name(name)?;
        let mut header = [0u8; BLOCK];
        header[..name_part.len()].copy_from_slice(name_part.as_bytes());
        octal(&mut header[100..108], u64::from(mode));
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], size);
        octal(&mut header[136..148], mtime);
        header[148..156].fill(b' ');
        header[156] = kind;
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        let sum: u32 = header.iter().map(|byte| u32::from(*byte)).sum();
        octal(&mut header[148..155], u64::from(sum));
        header[155] = b' ';
        self.bytes.extend_from_slice(&header);
        Ok(())
    }
}

/// A name split into ustar's prefix (155 bytes) and name (100 bytes) fields at a `/`.
fn split_name(name: &str) -> Result<(&str, &str), String> {
    if name.len() <= 100 {
        return Ok(("", name));
    }
    let too_long = || {
        format!("the path {name} is too long to copy to the remote hosts (ustar keeps 255 bytes)")
    };
    let search = &name[..name.len().min(156)];
    let at = search
        .char_indices()
        .filter(|(index, c)| *c == '/' && name.len() - index - 1 <= 100 && *index > 0)
        .map(|(index, _)| index)
        .next()
        .ok_or_else(too_long)?;
    Ok((&name[..at], &name[at + 1..]))
}

/// `value` as zero-padded octal digits filling `field` but its last byte (a NUL).
fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    let text = &text.as_bytes()[text.len().saturating_sub(width)..];
    field[..width].copy_from_slice(text);
    field[width] = 0;
}

/// Seconds since the epoch of a file's modification (0 when unknown).
pub(crate) fn mtime_of(metadata: &std::fs::Metadata) -> u64 {
    metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_tar_reads_the_archive() {
        let Some(tar) = crate::fs::find_executable("tar") else {
            return;
        };
        let source = tempfile::tempdir().unwrap();
        let lib = source.path().join("lib");
        std::fs::create_dir_all(lib.join("deep")).unwrap();
        std::fs::write(lib.join("util.sh"), "echo util\n").unwrap();
        std::fs::set_permissions(lib.join("util.sh"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        let long = "d".repeat(90);
        std::fs::create_dir_all(lib.join(&long)).unwrap();
        std::fs::write(lib.join(&long).join("f".repeat(60)), "x").unwrap();
        let mut archive = Archive::new();
        archive
            .add_file("script.sh", 0o744, 1_700_000_000, b"#!/bin/sh\necho hi\n")
            .unwrap();
        archive.add_tree(&lib, "lib").unwrap();
        let bytes = archive.finish();
        assert_eq!(bytes.len() % BLOCK, 0);

        let target = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(tar)
            .args(["-x", "-o", "-f", "-", "-C"])
            .arg(target.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        assert!(child.wait().unwrap().success());
        let script = target.path().join("script.sh");
        assert_eq!(
            std::fs::read_to_string(&script).unwrap(),
            "#!/bin/sh\necho hi\n"
        );
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        // Modes as archived, less the umask when not root.
        assert_eq!(mode(&script) & 0o700, 0o700);
        assert_eq!(mode(&target.path().join("lib/util.sh")) & 0o700, 0o700);
        assert_eq!(
            std::fs::read_to_string(target.path().join("lib").join(&long).join("f".repeat(60)))
                .unwrap(),
            "x"
        );
        assert!(target.path().join("lib/deep").is_dir());
    }

    #[test]
    fn names_past_ustar_are_refused() {
        assert!(split_name(&"a".repeat(101)).is_err());
        assert_eq!(split_name("a/b").unwrap(), ("", "a/b"));
        let name = format!("{}/{}", "p".repeat(150), "n".repeat(100));
        assert_eq!(split_name(&name).unwrap().1.len(), 100);
    }
}
