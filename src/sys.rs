//! The one home of every call into the operating system that Rust's standard library does
//! not wrap: each `libc` call (and each `unsafe` block) of the crate is here, behind a safe
//! function that says what it does and why the call is sound. The rest of the crate denies
//! `unsafe_code` (`Cargo.toml`'s `[lints]`), so a new one has to come here and be reviewed
//! with its neighbours.
//!
//! What is here: processes (liveness, signals, process groups, dying with the parent, a
//! detached session, `pidfd_open` and `poll` to wait for one), `renameat2(RENAME_EXCHANGE)`,
//! `getrandom`, `faccessat`, `getgrnam_r`, the terminal size, and libgit2's process-wide
//! options and transports.
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// `SIGKILL`: the signal of a killed process (`kill -9`), as `ExitStatus::signal` gives it.
pub(crate) const SIGKILL: i32 = libc::SIGKILL;
/// `SIGTERM`: the signal that asks a process to stop.
pub(crate) const SIGTERM: i32 = libc::SIGTERM;

/// Whether the process `pid` still exists (`kill(pid, 0)`; a process of another user that we
/// may not signal exists too). `0` is never alive (it would mean our own process group).
pub(crate) fn process_alive(pid: u32) -> bool {
    let Ok(pid @ 1..) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signaled.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Send `signal` to the process `pid` (nothing when `pid` is 0 or out of range, which would
/// address a group; no error when the process is gone).
pub(crate) fn signal_process(pid: u32, signal: i32) {
    let Ok(pid @ 1..) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill only sends a signal.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Send `signal` to every process of the group `pgid` (nothing when `pgid` is 0 or out of
/// range; no error when the group is gone).
pub(crate) fn signal_group(pgid: u32, signal: i32) {
    let Ok(pgid @ 1..) = libc::pid_t::try_from(pgid) else {
        return;
    };
    // SAFETY: killpg only sends a signal; a group that no longer exists gives ESRCH.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

/// Die here, as by `kill -9` (the failpoints of crash tests).
#[cfg(debug_assertions)]
pub(crate) fn kill_self() {
    // SAFETY: raising a signal on our own process has no memory-safety preconditions.
    unsafe {
        libc::raise(libc::SIGKILL);
    }
}

/// Make the child that `command` starts die with this process (`PR_SET_PDEATHSIG` with
/// SIGKILL), so that a killed `st2` leaves no action or installer running unrecorded (the
/// processes the child starts itself may outlive it). A child whose parent is already gone
/// when it gets there exits at once with status 1 instead of running.
pub(crate) fn die_with_parent(command: &mut Command) {
    signal_on_parent_death(command, libc::SIGKILL);
}

/// Like [`die_with_parent`], with SIGHUP: for a child that acts on it (a shell that then
/// kills its whole process group, `venv::build`). SIGHUP, not SIGTERM, because SIGTERM is
/// what a cancel sends the group first, to let the installer clean up.
pub(crate) fn hangup_with_parent(command: &mut Command) {
    signal_on_parent_death(command, libc::SIGHUP);
}

fn signal_on_parent_death(command: &mut Command, signal: libc::c_int) {
    let parent = std::process::id();
    // SAFETY: prctl, getppid and _exit are async-signal-safe, as code between fork and exec
    // must be; the closure captures only a number.
    unsafe {
        command.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, signal);
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Start the child that `command` starts in a session of its own (`setsid`), detached from
/// our terminal, so that Ctrl-C here or closing the shell does not stop it.
pub(crate) fn detach_session(command: &mut Command) {
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
}

/// Let the child that `command` starts inherit the descriptor `fd` under its own number
/// (only close-on-exec is cleared): duplicating it onto a fixed number could overwrite the
/// pipe through which std reports a failed exec ("python not found").
pub(crate) fn inherit_fd(command: &mut Command, fd: std::os::fd::RawFd) {
    // SAFETY: fcntl is async-signal-safe; the closure captures only a number.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Exchange the paths `a` and `b` atomically (Linux `renameat2(RENAME_EXCHANGE)`). `Ok(false)`
/// when the kernel or the file system cannot (`EINVAL`, `ENOSYS`), or elsewhere than Linux:
/// the caller then does it another way.
pub(crate) fn rename_exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let a_c = CString::new(a.as_os_str().as_bytes())?;
        let b_c = CString::new(b.as_os_str().as_bytes())?;
        // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
        let result = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a_c.as_ptr(),
                libc::AT_FDCWD,
                b_c.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if result == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        if !matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(err);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (a, b);
    Ok(false)
}

/// Fill `buf` from the kernel's random source (`getrandom(2)`, without the millisecond that
/// starting OpenSSL costs); `false` when the call failed or filled less.
pub(crate) fn getrandom(buf: &mut [u8]) -> bool {
    // SAFETY: the buffer is ours and its length is passed.
    let filled = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    filled == buf.len() as isize
}

/// In a statically linked build (`scripts/release.sh`), have glibc's name services read only
/// what is compiled into it: /etc/passwd, /etc/group, /etc/hosts and DNS. A static glibc
/// loads any other module the system's nsswitch.conf names (`systemd`, `sss`, `ldap`,
/// `mdns4_minimal`, `myhostname`, `resolve`) from the system's shared libraries, built for
/// another glibc, and a lookup that reaches one can crash the process: `getgrnam` of a
/// missing group does (SIGSEGV) on Debian 12, whose nsswitch.conf says `group: files
/// systemd`. Nothing in a dynamically linked build, which uses the system's modules. Call it
/// first, before any lookup and any other thread.
pub(crate) fn confine_name_services() {
    #[cfg(all(target_env = "gnu", target_feature = "crt-static"))]
    {
        extern "C" {
            // glibc's <nss.h>: "especially useful in statically linked programs".
            fn __nss_configure_lookup(
                db: *const libc::c_char,
                service_line: *const libc::c_char,
            ) -> libc::c_int;
        }
        for (db, services) in [
            (c"passwd", c"files"),
            (c"group", c"files"),
            (c"shadow", c"files"),
            (c"initgroups", c"files"),
            (c"hosts", c"files dns"),
            (c"services", c"files"),
            (c"protocols", c"files"),
            (c"networks", c"files dns"),
        ] {
            // SAFETY: both arguments are valid NUL-terminated strings that outlive the call;
            // glibc copies what it keeps. No other thread exists yet.
            unsafe {
                __nss_configure_lookup(db.as_ptr(), services.as_ptr());
            }
        }
    }
}

/// A descriptor that becomes readable when the process `pid` (our child) exits
/// (`pidfd_open`, Linux 5.3); an error where the kernel or a sandbox refuses it.
pub(crate) fn pidfd_open(pid: u32) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = std::os::fd::RawFd::try_from(fd).map_err(std::io::Error::other)?;
    // SAFETY: the descriptor was just created and is owned by nothing else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Wait up to `timeout` until one of `fds` is readable, at its end or in error (`poll`);
/// which ones are. An interrupted wait reports none.
pub(crate) fn poll_readable(
    fds: &[std::os::fd::BorrowedFd<'_>],
    timeout: std::time::Duration,
) -> std::io::Result<Vec<bool>> {
    use std::os::fd::AsRawFd;
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: the array is ours and its length is passed; poll only writes `revents`.
    let result = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, millis) };
    if result < 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(err);
    }
    Ok(polled.iter().map(|fd| fd.revents != 0).collect())
}

/// Whether this process may create files in the directory `dir`: `faccessat(W_OK | X_OK)`
/// with our effective ids (permissions, ACLs, a read-only mount: `EROFS`), the reason as the
/// error when not. Asking costs one system call where creating and removing a probe file
/// cost a write to the directory on every command.
pub(crate) fn check_writable_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: the path is a valid NUL-terminated string for the duration of the call.
    let result = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The id of the group `name` (`getgrnam_r`), `None` when there is no such group.
pub(crate) fn group_id(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    let mut buffer = vec![0u8; 1024];
    loop {
        // SAFETY: an all-zero `group` (null pointers, zero numbers) is a valid value to
        // overwrite.
        let mut group: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call and the buffer's length is passed;
        // getgrnam_r writes only into `group` and `buffer`, and `found` points to `group` or
        // is null. Only the number is read, before either goes away.
        let result = unsafe {
            libc::getgrnam_r(
                name.as_ptr(),
                &mut group,
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                &mut found,
            )
        };
        if result == libc::ERANGE && buffer.len() < 1 << 20 {
            buffer.resize(buffer.len() * 4, 0);
            continue;
        }
        return (result == 0 && !found.is_null()).then_some(group.gr_gid);
    }
}

/// The terminal's size on stdout (columns, rows), `None` when stdout is not a terminal or it
/// does not say.
pub(crate) fn terminal_size() -> Option<(u16, u16)> {
    // SAFETY: an all-zero winsize is valid, and TIOCGWINSZ fills the one we own.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0 {
            Some((size.ws_col, size.ws_row))
        } else {
            None
        }
    }
}

/// libgit2's connect and read timeouts, in milliseconds, process-wide. Call it before this
/// process starts any libgit2 network transport (`git` does, once).
pub(crate) fn libgit2_set_timeouts(millis: i32) {
    // SAFETY: libgit2's global options are not synchronised with transports running in other
    // threads; the caller sets them before the first one starts.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(millis);
        let _ = git2::opts::set_server_timeout_in_milliseconds(millis);
    }
}

/// Register `factory` as libgit2's transport for URLs of `scheme` (`https`: `https://...`),
/// process-wide, in place of libgit2's own. Call it before this process starts any libgit2
/// transport (`git` does, once).
pub(crate) fn libgit2_register_transport<F>(scheme: &str, factory: F) -> Result<(), git2::Error>
where
    F: Fn(&git2::Remote<'_>) -> Result<git2::transport::Transport, git2::Error>
        + Send
        + Sync
        + 'static,
{
    // SAFETY: libgit2's registry of transports is not synchronised with the creation of
    // transports in other threads; the caller registers before the first one is created.
    unsafe { git2::transport::register(scheme, factory) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_alive() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX));
        assert!(!process_alive(0));
    }

    #[test]
    fn the_root_group_exists() {
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(group_id("no-such-group-st2"), None);
        assert_eq!(group_id("nul\0inside"), None);
    }

    #[test]
    fn writable_directories_are_told_from_others() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_writable_dir(dir.path()).is_ok());
        let missing = dir.path().join("missing");
        assert!(check_writable_dir(&missing).is_err());
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(check_writable_dir(&file).is_err());
    }

    #[test]
    fn random_bytes_are_filled() {
        let mut buf = [0u8; 32];
        assert!(getrandom(&mut buf));
        assert_ne!(buf, [0u8; 32]);
    }

    #[test]
    fn exchange_swaps_two_directories() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::write(a.join("x"), "a").unwrap();
        std::fs::create_dir(&b).unwrap();
        if rename_exchange(&a, &b).unwrap() {
            assert_eq!(std::fs::read_to_string(b.join("x")).unwrap(), "a");
            assert!(!a.join("x").exists());
        }
    }
}
