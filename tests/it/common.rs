//! Shared helpers: a temporary StackStorm home, local git remotes, a loopback HTTP server.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use assert_cmd::Command;
use serde_json::{json, Value};

/// `../shared` beside the repository.
pub(crate) fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// Whether CI runs the tests: `CI` set to anything but empty, `0` or `false` (`.ci/run`
/// sets it; so do most CI services).
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !["", "0", "false"].contains(&value.as_str()))
}

/// True when a test must be skipped because `present` is false: it says so on stderr
/// (`what`: what is missing and how to get it). In CI nothing may be missing, so there it
/// panics instead, and a test that would have checked nothing fails.
pub(crate) fn skip_unless(present: bool, what: &str) -> bool {
    if present {
        return false;
    }
    assert!(!in_ci(), "{what} (CI is set: a test may not skip there)");
    eprintln!("skipped: {what}");
    true
}

/// Whether an executable named `name` is on `PATH`.
pub(crate) fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// `fixtures/` of the repository.
pub(crate) fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `fixtures/upstream/<relative>`: fixtures of StackStorm's own tests.
pub(crate) fn upstream_fixture(relative: &str) -> PathBuf {
    fixtures_dir().join("upstream").join(relative)
}

/// The variables that point `st2` at a cluster (`../shared/spec/remote-api.md` §1.1).
pub(crate) const REMOTE_VARIABLES: &[&str] = &[
    "ST2_MODE",
    "ST2_BASE_URL",
    "ST2_API_URL",
    "ST2_AUTH_URL",
    "ST2_STREAM_URL",
    "ST2_API_VERSION",
    "ST2_CACERT",
    "ST2_AUTH_TOKEN",
    "ST2_API_KEY",
    "ST2_CONFIG_FILE",
    "ST2_CLI_SKIP_CONFIG",
    "ST2_HTTP_TIMEOUT",
];

/// A temporary StackStorm home: base path, st2.conf, and an index of our own.
pub(crate) struct Home {
    pub dir: tempfile::TempDir,
    pub base: PathBuf,
    pub conf: PathBuf,
    index_urls: Vec<String>,
    extra_conf: String,
}

impl Home {
    pub(crate) fn new() -> Home {
        Home::in_dir(tempfile::tempdir().unwrap())
    }

    /// A home in `dir` (the snapshot tests want one whose path has the same length on
    /// every machine).
    pub(crate) fn in_dir(dir: tempfile::TempDir) -> Home {
        let base = dir.path().join("st2");
        let conf = dir.path().join("st2.conf");
        let home = Home {
            dir,
            base,
            conf,
            index_urls: Vec::new(),
            extra_conf: String::new(),
        };
        home.write_conf();
        home
    }

    /// Point `[content] index_url` at these URLs.
    pub(crate) fn set_index_urls(&mut self, urls: &[String]) {
        self.index_urls = urls.to_vec();
        self.write_conf();
    }

    /// Extra st2.conf text appended after the generated sections.
    pub(crate) fn set_extra_conf(&mut self, text: &str) {
        self.extra_conf = text.to_string();
        self.write_conf();
    }

    fn write_conf(&self) {
        let mut text = format!("[system]\nbase_path = {}\n\n", self.base.display());
        if !self.index_urls.is_empty() {
            text.push_str(&format!(
                "[content]\nindex_url = {}\nnetwork_timeout = 5\n\n",
                self.index_urls.join(",")
            ));
        }
        text.push_str(&self.extra_conf);
        std::fs::write(&self.conf, text).unwrap();
    }

    /// `PROGRAM` (one of ours) as the harness runs it: without the caller's `ST2_CONF`,
    /// `ST2_BASE_PATH`, colours or system git config, with the home as `HOME` and working
    /// directory; no `--config-file` yet, so that a test can put it anywhere.
    pub(crate) fn bare_command(&self, program: &str) -> StdCommand {
        let mut command = StdCommand::new(assert_cmd::cargo::cargo_bin(program));
        // Nor the caller's cluster settings (they would switch st2 to remote mode).
        for name in REMOTE_VARIABLES {
            command.env_remove(name);
        }
        command
            .env_remove("ST2_CONF")
            .env_remove("ST2_BASE_PATH")
            .env_remove("UV_CACHE_DIR")
            .env_remove("PIP_CACHE_DIR")
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path());
        command
    }

    fn command(&self, program: &str) -> Command {
        let mut command = self.bare_command(program);
        command.arg("--config-file").arg(&self.conf);
        Command::from_std(command)
    }

    /// `st2 --config-file <conf> ...`
    pub(crate) fn st2(&self) -> Command {
        self.command("st2")
    }

    /// Start `st2 --config-file <conf> ARGS` without waiting (stdout discarded, stderr
    /// piped), for tests of concurrent commands.
    pub(crate) fn spawn_st2(&self, args: &[&str]) -> std::process::Child {
        self.spawn("st2", args, std::process::Stdio::null())
    }

    /// Start `PROGRAM --config-file <conf> ARGS` without waiting; stderr piped.
    pub(crate) fn spawn(
        &self,
        program: &str,
        args: &[&str],
        stdout: std::process::Stdio,
    ) -> std::process::Child {
        self.bare_command(program)
            .arg("--config-file")
            .arg(&self.conf)
            .args(args)
            .stdout(stdout)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `st2ctl --config-file <conf> ...`
    pub(crate) fn st2ctl(&self) -> Command {
        self.command("st2ctl")
    }

    pub(crate) fn packs(&self) -> PathBuf {
        self.base.join("packs")
    }

    pub(crate) fn pack(&self, pack_ref: &str) -> PathBuf {
        self.packs().join(pack_ref)
    }

    /// `<base>/configs/<pack>.yaml`.
    pub(crate) fn config(&self, pack: &str) -> PathBuf {
        self.base.join("configs").join(format!("{pack}.yaml"))
    }

    /// Write `<base>/configs/<pack>.yaml`.
    pub(crate) fn write_config(&self, pack: &str, text: &str) {
        write(&self.base.join("configs"), &format!("{pack}.yaml"), text);
    }

    /// Copy the fixture pack `fixtures/upstream/<relative>` into the packs directory as
    /// `name`; its directory there.
    pub(crate) fn add_upstream_pack(&self, relative: &str, name: &str) -> PathBuf {
        let dir = self.pack(name);
        copy_tree(&upstream_fixture(relative), &dir);
        dir
    }

    /// Copy `fixtures/upstream/packs/configs/<pack>.yaml` to `<base>/configs/<pack>.yaml`.
    pub(crate) fn add_upstream_config(&self, pack: &str) {
        let path = upstream_fixture(&format!("packs/configs/{pack}.yaml"));
        self.write_config(pack, &std::fs::read_to_string(path).unwrap());
    }

    pub(crate) fn venv(&self, pack_ref: &str) -> PathBuf {
        self.base.join("virtualenvs").join(pack_ref)
    }

    /// `st2 pack list -j` as JSON, without the built-in `core` pack it always lists.
    pub(crate) fn pack_list(&self) -> Vec<Value> {
        let Value::Array(packs) = st2_json(self, &["pack", "list"]) else {
            panic!("st2 pack list -j printed no list");
        };
        packs
            .into_iter()
            .filter(|pack| pack["source"]["builtin"] != true)
            .collect()
    }

    /// Refs of the installed packs.
    pub(crate) fn installed(&self) -> Vec<String> {
        self.pack_list()
            .iter()
            .map(|pack| pack["ref"].as_str().unwrap().to_string())
            .collect()
    }

    /// Rows of the store, straight from SQLite (the store is a real file).
    pub(crate) fn query(&self, sql: &str) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.base.join("st2.db")).unwrap();
        let mut statement = conn.prepare(sql).unwrap();
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

/// Run git with a fixed identity; panics with git's output on failure.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let output = StdCommand::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "init.defaultBranch=master",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(["-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The command lines (arguments joined by spaces) of this machine's processes that contain
/// `text`, read from /proc so that no `pgrep` (procps) is needed.
pub(crate) fn processes_matching(text: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.bytes().all(|b| b.is_ascii_digit()) && name != me.as_str()
        })
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .filter(|line| line.contains(text))
        .collect()
}

/// A number of seconds just above `whole`, with decimals unique to `home`: a `sleep` of that
/// long is found by [`processes_matching`] without mistaking another test's (or run's) for it.
pub(crate) fn unique_seconds(home: &Home, whole: u32) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    home.dir.path().hash(&mut hasher);
    format!("{whole}.{:09}", hasher.finish() % 1_000_000_000)
}

/// xorshift64*: randomness for generated cases and kill points, reproducible from the seed
/// it prints (`ST2_TEST_SEED` sets it).
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded from `ST2_TEST_SEED`, else from the clock; prints the seed.
    pub(crate) fn from_env() -> Rng {
        let seed = std::env::var("ST2_TEST_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        println!("seed: {seed} (rerun with ST2_TEST_SEED={seed})");
        // From 0, xorshift only ever gives 0.
        Rng(seed.max(1))
    }

    /// A number below `limit` (0 when `limit` is 0).
    pub(crate) fn below(&mut self, limit: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % limit.max(1) as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Copy a directory tree (directories and files, with their permissions) to `to`, which
/// may not exist yet.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Make a file executable (mode 755).
pub(crate) fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Write an action's metadata, `<pack_dir>/actions/<name>.yaml`, as JSON (JSON is YAML).
pub(crate) fn write_action(pack_dir: &Path, metadata: &Value) {
    let name = metadata["name"].as_str().unwrap();
    write(
        pack_dir,
        &format!("actions/{name}.yaml"),
        &metadata.to_string(),
    );
}

/// Write a file, creating parent directories.
pub(crate) fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The files of a small valid pack: pack.yaml, a shell action per name, optional extras.
pub(crate) fn pack_files(dir: &Path, name: &str, version: &str, actions: &[&str]) {
    write(
        dir,
        "pack.yaml",
        &format!(
            "---\nref: {name}\nname: {name}\ndescription: The {name} test pack\nkeywords:\n  - test\n\
             version: {version}\nauthor: Tester\nemail: tester@example.com\npython_versions:\n  - \"3\"\n"
        ),
    );
    for action in actions {
        write(
            dir,
            &format!("actions/{action}.yaml"),
            &format!(
                "---\nname: {action}\nrunner_type: local-shell-cmd\ndescription: {action}\n\
                 parameters:\n  cmd:\n    type: string\n    default: echo {action}\n"
            ),
        );
    }
}

/// A git repository with history, made at test time; `url()` is its file:// URL.
pub(crate) struct GitRepo {
    pub path: PathBuf,
}

impl GitRepo {
    /// An empty repository at `path`.
    pub(crate) fn init(path: &Path) -> GitRepo {
        std::fs::create_dir_all(path).unwrap();
        git(path, &["init", "-q"]);
        GitRepo {
            path: path.to_path_buf(),
        }
    }

    /// A pack repository with one commit per version, each tagged `v<version>`.
    pub(crate) fn pack(path: &Path, name: &str, versions: &[&str]) -> GitRepo {
        let repo = GitRepo::init(path);
        for version in versions {
            pack_files(path, name, version, &["hello"]);
            repo.commit_all(&format!("release {version}"));
            repo.tag(&format!("v{version}"));
        }
        repo
    }

    pub(crate) fn commit_all(&self, message: &str) -> String {
        git(&self.path, &["add", "-A"]);
        git(
            &self.path,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        self.head()
    }

    pub(crate) fn tag(&self, tag: &str) {
        git(&self.path, &["tag", tag]);
    }

    pub(crate) fn head(&self) -> String {
        git(&self.path, &["rev-parse", "HEAD"])
    }

    pub(crate) fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }
}

/// An index document listing `(name, repo_url, versions)`; the first version is `version`.
pub(crate) fn index_json(packs: &[(&str, String, &[&str])]) -> Value {
    let mut entries = serde_json::Map::new();
    for (name, url, versions) in packs {
        entries.insert(
            name.to_string(),
            json!({
                "name": name,
                "ref": name,
                "description": format!("The {name} test pack"),
                "version": versions[0],
                "versions": versions,
                "author": "Tester",
                "email": "tester@example.com",
                "keywords": ["test", format!("{name}-keyword")],
                "repo_url": url,
                "content": {"actions": {"count": 1, "resources": ["hello"]}},
            }),
        );
    }
    json!({"metadata": {"generated_ts": 0}, "packs": entries})
}

/// Write `index` to `<dir>/index.json` and return its file:// URL.
pub(crate) fn write_index(dir: &Path, index: &Value) -> String {
    let path = dir.join("index.json");
    std::fs::write(&path, serde_json::to_vec_pretty(index).unwrap()).unwrap();
    format!("file://{}", path.display())
}

/// A server on 127.0.0.1 (a free port) handing each request to a handler on its own thread;
/// stops when dropped.
pub(crate) struct LoopbackServer {
    pub base_url: String,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    server: Arc<tiny_http::Server>,
}

impl LoopbackServer {
    pub(crate) fn start(handler: impl Fn(tiny_http::Request) + Send + 'static) -> LoopbackServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_server, thread_stop) = (server.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !thread_stop.load(Ordering::SeqCst) {
                if let Ok(Some(request)) =
                    thread_server.recv_timeout(std::time::Duration::from_millis(50))
                {
                    handler(request);
                }
            }
        });
        LoopbackServer {
            base_url: format!("http://127.0.0.1:{port}"),
            stop,
            handle: Some(handle),
            server,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// A TLS front (HTTP/1.1 only) for a plain server on 127.0.0.1: each connection's bytes are
/// carried both ways after the handshake. Its certificate (for 127.0.0.1 and localhost) is
/// signed by a CA of its own, made at test time, whose PEM file is `ca_file`. Stops when
/// dropped.
pub(crate) struct TlsProxy {
    pub base_url: String,
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl TlsProxy {
    /// In front of `backend` (`http://127.0.0.1:PORT`).
    pub(crate) fn start(backend: &str) -> TlsProxy {
        let backend = backend.trim_start_matches("http://").to_string();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "st2-rs test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .unwrap();
        let certificate = params.signed_by(&key, &ca, &ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![certificate.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let handle = std::thread::spawn(move || {
            while !thread_stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (config, backend) = (config.clone(), backend.clone());
                        std::thread::spawn(move || carry_tls(client, &backend, config));
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        });
        TlsProxy {
            base_url: format!("https://127.0.0.1:{port}"),
            ca_file,
            _dir: dir,
            stop,
            handle: Some(handle),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// One connection: TLS on `client`, plain bytes to and from `backend`, until either ends.
fn carry_tls(client: std::net::TcpStream, backend: &str, config: Arc<rustls::ServerConfig>) {
    use std::io::{ErrorKind, Read, Write};
    let waiting =
        |err: &std::io::Error| matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
    let tick = Some(std::time::Duration::from_millis(5));
    let _ = client.set_nonblocking(false);
    let _ = client.set_read_timeout(tick);
    let Ok(mut plain) = std::net::TcpStream::connect(backend) else {
        return;
    };
    let _ = plain.set_read_timeout(tick);
    let connection = rustls::ServerConnection::new(config).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, client);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if plain.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(err) if waiting(&err) => {}
            Err(_) => break,
        }
        match plain.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if tls.write_all(&buf[..n]).and_then(|()| tls.flush()).is_err() {
                    return;
                }
            }
            Err(err) if waiting(&err) => {}
            Err(_) => break,
        }
    }
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Fixed bodies by path (path, status, body); anything else is a 404.
pub(crate) fn http_server(routes: Vec<(String, u16, Vec<u8>)>) -> LoopbackServer {
    LoopbackServer::start(move |request| {
        let route = routes.iter().find(|(path, _, _)| path == request.url());
        let response = match route {
            Some((_, status, body)) => {
                tiny_http::Response::from_data(body.clone()).with_status_code(*status)
            }
            None => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
        };
        let _ = request.respond(response);
    })
}

/// stdout of a command as a string.
pub(crate) fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of a command as a string.
pub(crate) fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `st2 ARGS -j`, which must succeed, as JSON.
pub(crate) fn st2_json(home: &Home, args: &[&str]) -> Value {
    let output = home.st2().args(args).arg("-j").output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `st2ctl reload ARGS`.
pub(crate) fn reload(home: &Home, args: &[&str]) -> std::process::Output {
    home.st2ctl().arg("reload").args(args).output().unwrap()
}

/// `st2ctl reload ARGS`, which must succeed.
pub(crate) fn reload_ok(home: &Home, args: &[&str]) {
    let output = reload(home, args);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
}

/// The execution `st2 run ... -j` printed; panics with both streams when it printed none.
pub(crate) fn execution_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{err}: stdout {} stderr {}", stdout(output), stderr(output)))
}

/// `st2 run ARGS -j` (or `st2 run ARGS` when ARGS hold `-j` already, before a `--`): the
/// execution printed, and the output.
pub(crate) fn run_json(home: &Home, args: &[&str]) -> (Value, std::process::Output) {
    let mut command = home.st2();
    command.arg("run").args(args);
    if !args.contains(&"-j") {
        command.arg("-j");
    }
    let output = command.output().unwrap();
    (execution_of(&output), output)
}

/// What `st2 execution tail ID --type STREAM` prints of an execution's recorded output
/// (StackStorm's `ActionExecutionOutput` records of that stream, joined).
pub(crate) fn recorded_output(home: &Home, id: &str, stream: &str) -> String {
    let output = home
        .st2()
        .args(["execution", "tail", id, "--type", stream])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    // Then, as st2client's tail does: a line break and `Execution ID has completed (...)`.
    let text = stdout(&output);
    let trailer = format!("\nExecution {id} has completed");
    let end = text
        .rfind(&trailer)
        .unwrap_or_else(|| panic!("no completion line in {text:?}"));
    text[..end].to_string()
}

/// `st2 run ARGS -j`, which must exit 0: the execution.
pub(crate) fn run_ok(home: &Home, args: &[&str]) -> Value {
    let (execution, output) = run_json(home, args);
    assert!(
        output.status.success(),
        "stdout {} stderr {}",
        stdout(&output),
        stderr(&output)
    );
    execution
}

/// How many executions `st2 execution list` shows (all of them).
pub(crate) fn executions(home: &Home) -> usize {
    let output = home
        .st2()
        .args(["execution", "list", "-n", "1000000", "-j"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice::<Vec<Value>>(&output.stdout)
        .unwrap()
        .len()
}

/// `st2 execution get ID -j` again and again until `done` holds for it (30 seconds at
/// most): the execution then.
pub(crate) fn wait_execution(home: &Home, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let output = home
            .st2()
            .args(["execution", "get", id, "-j"])
            .output()
            .unwrap();
        let execution = execution_of(&output);
        if done(&execution) {
            return execution;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} did not get there: {execution}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `st2 run -a ARGS...` (the action and its parameters): the id of the execution it started.
pub(crate) fn run_async(home: &Home, args: &[&str]) -> String {
    let output = home
        .st2()
        .args(["run", "-a"])
        .args(args)
        .arg("-j")
        .output()
        .unwrap();
    execution_of(&output)["id"].as_str().unwrap().to_string()
}

/// Poll `done` every 50 ms until it holds; fail after 30 s.
pub(crate) fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `st2 execution cancel ID`, which must succeed.
pub(crate) fn cancel_execution(home: &Home, id: &str) {
    let output = home
        .st2()
        .args(["execution", "cancel", id])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// The execution once it has ended (neither requested, running nor canceling).
pub(crate) fn wait_final(home: &Home, id: &str) -> Value {
    wait_execution(home, id, |execution| {
        !["requested", "running", "canceling"].contains(&execution["status"].as_str().unwrap())
    })
}

/// Git's smart HTTP protocol on 127.0.0.1: `git http-backend` run as a CGI program for each
/// request, serving the bare repositories under `root`.
pub(crate) fn git_http_server(root: &Path) -> LoopbackServer {
    let root = root.to_path_buf();
    LoopbackServer::start(move |request| serve_cgi(&root, request))
}

fn serve_cgi(root: &Path, mut request: tiny_http::Request) {
    let (status, headers, payload) = run_git_http_backend(root, &mut request);
    let mut response = tiny_http::Response::from_data(payload).with_status_code(status);
    for header in headers {
        response.add_header(header);
    }
    let _ = request.respond(response);
}

/// Run `git http-backend` for `request`: status, headers and body of its answer.
pub(crate) fn run_git_http_backend(
    root: &Path,
    request: &mut tiny_http::Request,
) -> (u16, Vec<tiny_http::Header>, Vec<u8>) {
    use std::io::Write;
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let header = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let content_type = header("Content-Type").unwrap_or_default();
    let encoding = header("Content-Encoding").unwrap_or_default();
    let protocol = header("Git-Protocol").unwrap_or_default();
    let method = request.method().as_str().to_string();
    let mut body = Vec::new();
    request.as_reader().read_to_end(&mut body).unwrap();
    let mut child = StdCommand::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", content_type)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", encoding)
        .env("GIT_PROTOCOL", protocol)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let output = child.wait_with_output().unwrap();
    let split = output
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| {
            output
                .stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|at| (at, 2))
        })
        .unwrap_or((output.stdout.len(), 0));
    let head = String::from_utf8_lossy(&output.stdout[..split.0]).to_string();
    let payload = output.stdout[split.0 + split.1..].to_vec();
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("Status") {
            status = value.split_whitespace().next().unwrap().parse().unwrap();
        } else if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
        {
            headers.push(header);
        }
    }
    (status, headers, payload)
}

/// The four OAuth credentials a fake X account uses in tests.
pub(crate) const X_KEYS: [(&str, &str); 4] = [
    ("consumer_key", "ck-test-1234"),
    ("consumer_secret", "cs-secret-5678"),
    ("access_token", "at-test-9012"),
    ("access_token_secret", "ats-secret-3456"),
];

/// A post the fake X server accepted.
#[derive(Debug, Clone)]
pub(crate) struct XPost {
    pub path: String,
    pub text: String,
    pub media_ids: Vec<String>,
}

/// A fake X API on 127.0.0.1 that checks every request's OAuth 1.0a HMAC-SHA1 signature
/// against `X_KEYS` with its own implementation (RFC 5849 §3.4, written independently of
/// the one under test) and answers 401 to anything else. `answer` forces a status for posts
/// (0: the normal 201/200 answers).
pub(crate) struct XServer {
    pub server: LoopbackServer,
    pub posts: Arc<std::sync::Mutex<Vec<XPost>>>,
    pub rejected: Arc<std::sync::Mutex<Vec<String>>>,
}

impl XServer {
    pub(crate) fn start(answer: u16) -> XServer {
        let posts: Arc<std::sync::Mutex<Vec<XPost>>> = Arc::default();
        let rejected: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let (seen, refused) = (posts.clone(), rejected.clone());
        let server = LoopbackServer::start(move |request| {
            x_answer(request, answer, &seen, &refused);
        });
        XServer {
            server,
            posts,
            rejected,
        }
    }

    pub(crate) fn url(&self) -> String {
        self.server.base_url.clone()
    }
}

fn x_respond(request: tiny_http::Request, status: u16, body: Value, headers: &[(&str, String)]) {
    let mut response = tiny_http::Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap());
    for (name, value) in headers {
        response.add_header(tiny_http::Header::from_bytes(*name, value.as_bytes()).unwrap());
    }
    let _ = request.respond(response);
}

fn x_answer(
    mut request: tiny_http::Request,
    answer: u16,
    posts: &std::sync::Mutex<Vec<XPost>>,
    rejected: &std::sync::Mutex<Vec<String>>,
) {
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    let header = |name: &str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().to_string())
    };
    let content_type = header("Content-Type").unwrap_or_default();
    let host = header("Host").unwrap_or_default();
    let (path, query) = match request.url().split_once('?') {
        Some((path, query)) => (path.to_string(), query.to_string()),
        None => (request.url().to_string(), String::new()),
    };
    let form = content_type.starts_with("application/x-www-form-urlencoded");
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let verdict = x_verify(
        request.method().as_str(),
        &format!("http://{host}{path}"),
        &query,
        if form { &body_text } else { "" },
        header("Authorization").as_deref(),
    );
    if let Err(why) = verdict {
        rejected.lock().unwrap().push(why);
        let detail = json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"});
        return x_respond(request, 401, detail, &[]);
    }
    if path.contains("/media/upload") {
        let id = format!("77{}", posts.lock().unwrap().len());
        return x_respond(
            request,
            200,
            json!({"media_id_string": id, "data": {"id": id}}),
            &[],
        );
    }
    match answer {
        403 => x_respond(
            request,
            403,
            json!({"title": "Forbidden", "detail": "You are not allowed to create a Tweet with duplicate content.", "status": 403}),
            &[],
        ),
        429 => {
            let reset = (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 900)
                .to_string();
            x_respond(
                request,
                429,
                json!({"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}),
                &[("x-rate-limit-reset", reset)],
            )
        }
        500 => x_respond(
            request,
            500,
            json!({"title": "Internal Server Error", "status": 500}),
            &[],
        ),
        503 => x_respond(
            request,
            503,
            json!({"title": "Service Unavailable", "status": 503}),
            &[],
        ),
        _ => {
            let (text, media_ids) = if form {
                let pairs = x_form(&body_text);
                let get = |k: &str| {
                    pairs
                        .iter()
                        .find(|(key, _)| key == k)
                        .map(|(_, v)| v.clone())
                };
                let media = get("media_ids")
                    .map(|m| m.split(',').map(str::to_string).collect())
                    .unwrap_or_default();
                (get("status").unwrap_or_default(), media)
            } else {
                let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let media = value["media"]["media_ids"]
                    .as_array()
                    .map(|ids| {
                        ids.iter()
                            .filter_map(|id| id.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    value["text"].as_str().unwrap_or_default().to_string(),
                    media,
                )
            };
            let mut seen = posts.lock().unwrap();
            seen.push(XPost {
                path: path.clone(),
                text: text.clone(),
                media_ids,
            });
            let id = format!("18{:017}", seen.len());
            if path.starts_with("/1.1/") {
                x_respond(request, 200, json!({"id_str": id, "text": text}), &[])
            } else {
                x_respond(
                    request,
                    201,
                    json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}}),
                    &[],
                )
            }
        }
    }
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn x_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                x_decode(&k.replace('+', " ")),
                x_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn x_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn x_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Check an OAuth 1.0a HMAC-SHA1 `Authorization` header; the reason when it does not verify.
fn x_verify(
    method: &str,
    base_url: &str,
    query: &str,
    form: &str,
    authorization: Option<&str>,
) -> Result<(), String> {
    let header = authorization.ok_or("no Authorization header")?;
    let fields = header.strip_prefix("OAuth ").ok_or("not an OAuth header")?;
    let mut protocol = Vec::new();
    for field in fields.split(',') {
        let (key, value) = field
            .trim()
            .split_once('=')
            .ok_or("malformed OAuth header")?;
        protocol.push((x_decode(key), x_decode(value.trim_matches('"'))));
    }
    let get = |name: &str| {
        protocol
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let key = |name: &str| X_KEYS.iter().find(|(k, _)| *k == name).unwrap().1;
    if get("oauth_consumer_key").as_deref() != Some(key("consumer_key"))
        || get("oauth_token").as_deref() != Some(key("access_token"))
    {
        return Err("unknown consumer key or token".into());
    }
    if get("oauth_signature_method").as_deref() != Some("HMAC-SHA1") {
        return Err("not HMAC-SHA1".into());
    }
    let timestamp: u64 = get("oauth_timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or("no timestamp")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if timestamp.abs_diff(now) > 300 {
        return Err("stale timestamp".into());
    }
    let signature = get("oauth_signature").ok_or("no signature")?;
    let mut pairs: Vec<(String, String)> = protocol
        .iter()
        .filter(|(key, _)| key != "oauth_signature" && key != "realm")
        .map(|(k, v)| (x_encode(k), x_encode(v)))
        .collect();
    pairs.extend(
        x_form(query)
            .iter()
            .map(|(k, v)| (x_encode(k), x_encode(v))),
    );
    pairs.extend(x_form(form).iter().map(|(k, v)| (x_encode(k), x_encode(v))));
    pairs.sort();
    let normalized: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let base = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        x_encode(base_url),
        x_encode(&normalized.join("&"))
    );
    let signing_key = format!(
        "{}&{}",
        x_encode(key("consumer_secret")),
        x_encode(key("access_token_secret"))
    );
    use hmac::Mac;
    let mut signer = hmac::Hmac::<sha1::Sha1>::new_from_slice(signing_key.as_bytes()).unwrap();
    signer.update(base.as_bytes());
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(signer.finalize().into_bytes());
    if expected == signature {
        Ok(())
    } else {
        Err(format!("bad signature for base string {base}"))
    }
}

/// How a [`FaultServer`] misbehaves with each connection.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fault {
    /// Read the request, never answer (until the server is dropped).
    Hang,
    /// Read the request, then reset the connection (RST, no answer).
    Reset,
    /// Answer 200 with a long body, one byte every 200 ms.
    Drip,
    /// Answer 500.
    Status500,
    /// Answer 200 with a body that is not JSON.
    Garbage,
}

/// A raw TCP server on 127.0.0.1 that misbehaves as told; stops when dropped.
pub(crate) struct FaultServer {
    pub base_url: String,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl FaultServer {
    pub(crate) fn start(fault: Fault) -> FaultServer {
        FaultServer::after_good(fault, None)
    }

    /// Answer the first request properly with `good` (200), then misbehave.
    pub(crate) fn after_good(fault: Fault, good: Option<Vec<u8>>) -> FaultServer {
        use std::io::{Read, Write};
        let mut good = good;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !thread_stop.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(std::time::Duration::from_millis(500)))
                    .unwrap();
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                if let Some(body) = good.take() {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body);
                    continue;
                }
                let answer = |stream: &mut std::net::TcpStream, status: &str, body: &str| {
                    let _ = stream.write_all(
                        format!(
                            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    );
                };
                match fault {
                    Fault::Status500 => answer(&mut stream, "500 Internal Server Error", "oops"),
                    Fault::Garbage => answer(&mut stream, "200 OK", "<html>not an index</html>"),
                    Fault::Hang => held.push(stream),
                    Fault::Reset => {
                        use std::os::fd::AsRawFd;
                        let linger = libc::linger {
                            l_onoff: 1,
                            l_linger: 0,
                        };
                        // SAFETY: a valid socket and a correctly sized option value.
                        unsafe {
                            libc::setsockopt(
                                stream.as_raw_fd(),
                                libc::SOL_SOCKET,
                                libc::SO_LINGER,
                                &linger as *const libc::linger as *const libc::c_void,
                                std::mem::size_of::<libc::linger>() as libc::socklen_t,
                            );
                        }
                        drop(stream);
                    }
                    Fault::Drip => {
                        let _ = stream.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                              Content-Length: 100000\r\n\r\n{",
                        );
                        let thread_stop = thread_stop.clone();
                        std::thread::spawn(move || {
                            while !thread_stop.load(Ordering::SeqCst)
                                && stream.write_all(b" ").is_ok()
                            {
                                std::thread::sleep(std::time::Duration::from_millis(200));
                            }
                        });
                    }
                }
            }
        });
        FaultServer {
            base_url,
            stop,
            handle: Some(handle),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The Python of the orquesta oracle (`../shared/oracles/orquesta-5ba1467.tar.gz`: orquesta
/// as StackStorm 3.9.0 pins it, with yaql 3.2.0 and Jinja2), building its virtualenv on first use; `None` (after saying why)
/// when it cannot be built here. Built once per test process: the differential tests run
/// in parallel and would otherwise build it together, one using it half-installed.
pub(crate) fn orquesta_oracle_python() -> Option<PathBuf> {
    static ORACLE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    ORACLE.get_or_init(build_oracle).clone()
}

fn build_oracle() -> Option<PathBuf> {
    let tarball = shared_dir().join("oracles/orquesta-5ba1467.tar.gz");
    if skip_unless(
        tarball.is_file(),
        "../shared/oracles/orquesta-5ba1467.tar.gz is missing",
    ) || skip_unless(on_path("python3"), "python3 is not on PATH")
    {
        return None;
    }
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(&tarball).unwrap(),
    ));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/yaql-oracle")
        .join(&hash[..16]);
    let python = root.join("venv/bin/python");
    // Written once pip has installed everything: a venv interrupted mid-build is rebuilt.
    let ready = root.join("ready");
    if ready.is_file() {
        return Some(python);
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.parent().unwrap()).unwrap();
    let staging = tempfile::tempdir_in(root.parent().unwrap()).unwrap();
    let built = (|| -> Result<(), String> {
        let src = staging.path().join("src");
        std::fs::create_dir_all(&src).map_err(|e| e.to_string())?;
        run(Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&src)
            .arg("--strip-components=1"))?;
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        run(Command::new("python3")
            .args(["-m", "venv"])
            .arg(root.join("venv")))?;
        run(Command::new(root.join("venv/bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check"])
            .arg(&src))?;
        std::fs::write(&ready, "").map_err(|e| e.to_string())
    })();
    match built {
        Ok(()) => Some(python),
        Err(why) => {
            let _ = std::fs::remove_dir_all(&root);
            skip_unless(
                false,
                &format!("the orquesta oracle could not be built: {why}"),
            );
            None
        }
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
