//! Test harness: starts a `devpeer` binary in a temporary home with the given builders and
//! drives it through its CLI, as a user would. Reusable by any end-to-end test (Node/Python
//! shims here, the Rust registry through the fpc builders later).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the devpeer binary under test.
pub fn devpeer_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_devpeer"))
}

/// `crates/devpeer/tests/fixtures`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// How to start a devpeer.
#[derive(Clone, Debug)]
pub struct Options {
    pub tls: bool,
    /// `NAME=PATH` builder flags, in order.
    pub builders: Vec<String>,
    /// Variables passed to the builders (propagateEnvironment).
    pub propagate: Vec<String>,
    /// Extra environment for the devpeer process.
    pub env: Vec<(String, String)>,
    pub extra_args: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tls: true,
            builders: Vec::new(),
            propagate: Vec::new(),
            env: Vec::new(),
            extra_args: vec!["--launch-timeout".into(), "60s".into()],
        }
    }
}

/// Result of one CLI call.
#[derive(Debug)]
pub struct CliResult {
    pub success: bool,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl CliResult {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// Panics with the stderr unless the call succeeded; returns stdout as a string.
    pub fn ok(&self) -> String {
        assert!(self.success, "devpeer call failed: {}", self.stderr);
        self.stdout_str()
    }
    /// Panics unless the call failed; returns stderr.
    pub fn err(&self) -> String {
        assert!(
            !self.success,
            "devpeer call unexpectedly succeeded: {}",
            self.stdout_str()
        );
        self.stderr.clone()
    }
}

impl From<Output> for CliResult {
    fn from(o: Output) -> Self {
        CliResult {
            success: o.status.success(),
            stdout: o.stdout,
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `devpeer --home HOME ARGS...` (usable from other threads).
pub fn cli_in(home: &Path, args: &[&str]) -> CliResult {
    Command::new(devpeer_bin())
        .arg("--home")
        .arg(home)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run devpeer cli")
        .into()
}

/// A running devpeer in its own home.
pub struct DevPeer {
    pub home: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub opts: Options,
    child: Option<Child>,
}

impl DevPeer {
    /// Starts a devpeer in a fresh temporary home.
    pub fn start(opts: Options) -> DevPeer {
        let tmp = tempfile::Builder::new()
            .prefix("devpeer-")
            .tempdir()
            .expect("tempdir");
        let home = tmp.path().to_path_buf();
        let mut p = DevPeer {
            home,
            _tmp: Some(tmp),
            opts,
            child: None,
        };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("devpeer.log"))
            .expect("log");
        let mut cmd = Command::new(devpeer_bin());
        cmd.arg("--home")
            .arg(&self.home)
            .arg("start")
            .args(["--chaincode-listen", "127.0.0.1:0"])
            .args(["--tls", if self.opts.tls { "true" } else { "false" }]);
        for b in &self.opts.builders {
            cmd.args(["--builder", b]);
        }
        for v in &self.opts.propagate {
            cmd.args(["--propagate", v]);
        }
        cmd.args(&self.opts.extra_args);
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("spawn devpeer"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.cli(&["status"]).success {
                return;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(s)) = c.try_wait() {
                    panic!("devpeer exited at start ({s}):\n{}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "devpeer did not come up:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The devpeer's own log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("devpeer.log")).unwrap_or_default()
    }

    /// Runs `devpeer --home H ARGS...`.
    pub fn cli(&self, args: &[&str]) -> CliResult {
        cli_in(&self.home, args)
    }

    /// Stops the peer (admin shutdown) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = self.cli(&["stop"]);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops and starts again on the same home.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Writes `bytes` to a file in the home and installs it; returns the package id.
    pub fn install_bytes(&self, name: &str, bytes: &[u8]) -> CliResult {
        let path = self.home.join(name);
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(bytes))
            .expect("write package");
        self.cli(&["install", path.to_str().expect("utf8")])
    }

    /// Installs and returns the package id (panics on failure).
    pub fn install(&self, name: &str, bytes: &[u8]) -> String {
        self.install_bytes(name, bytes).ok().trim().to_string()
    }

    /// Defines `name` at `sequence` with `package_id`.
    pub fn define(&self, name: &str, version: &str, sequence: i64, package_id: &str) -> CliResult {
        self.cli(&[
            "define",
            name,
            "--version",
            version,
            "--sequence",
            &sequence.to_string(),
            "--package-id",
            package_id,
        ])
    }

    /// `devpeer invoke NAME -c {"Args":[...]} EXTRA...`.
    pub fn invoke(&self, name: &str, args: &[&str], extra: &[&str]) -> CliResult {
        self.tx("invoke", name, args, extra)
    }

    /// `devpeer query NAME -c {"Args":[...]} EXTRA...`.
    pub fn query(&self, name: &str, args: &[&str], extra: &[&str]) -> CliResult {
        self.tx("query", name, args, extra)
    }

    fn tx(&self, verb: &str, name: &str, args: &[&str], extra: &[&str]) -> CliResult {
        let ctor = serde_json::json!({ "Args": args }).to_string();
        let mut all = vec![verb, name, "-c", ctor.as_str()];
        all.extend_from_slice(extra);
        self.cli(&all)
    }
}

impl Drop for DevPeer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A gzip tar of regular files (mode 0644, or 0755 for names ending in `.sh`).
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(if name.ends_with(".sh") { 0o755 } else { 0o644 });
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, name, *data).expect("tar");
    }
    b.into_inner().expect("tar").finish().expect("gzip")
}

/// A Fabric v2 install package.
pub fn package(label: &str, cc_type: &str, code: &[(&str, &[u8])]) -> Vec<u8> {
    let metadata = serde_json::json!({ "path": "", "type": cc_type, "label": label }).to_string();
    let code = tar_gz(code);
    tar_gz(&[
        ("metadata.json", metadata.as_bytes()),
        ("code.tar.gz", &code),
    ])
}

/// The package id Fabric computes.
pub fn package_id(label: &str, bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{label}:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Makes sure the Node fixture's dependencies are installed (`npm ci` when missing).
pub fn node_fixture() -> PathBuf {
    let dir = fixtures().join("node-chaincode");
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if !dir.join("node_modules/fabric-shim").is_dir() {
            let st = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .status()
                .expect("npm (Node.js) is needed for the fidelity tests");
            assert!(st.success(), "npm ci failed in {}", dir.display());
        }
    });
    dir
}

/// The Node contract as a normal-mode package of type `node`.
pub fn node_package(label: &str) -> Vec<u8> {
    let dir = node_fixture();
    let index = std::fs::read(dir.join("index.js")).expect("index.js");
    let pkg = std::fs::read(dir.join("package.json")).expect("package.json");
    package(
        label,
        "node",
        &[("index.js", &index), ("package.json", &pkg)],
    )
}

/// Options for a devpeer whose builders run the Node fixture.
pub fn node_options() -> Options {
    let dir = node_fixture();
    let b = fixtures().join("builders");
    Options {
        builders: vec![
            format!("node={}", b.join("node").display()),
            format!("ccaas={}", b.join("ccaas").display()),
            format!("failing={}", b.join("failing").display()),
            format!("silent={}", b.join("silent").display()),
        ],
        propagate: vec!["NODE_FIXTURE_MODULES".into()],
        env: vec![(
            "NODE_FIXTURE_MODULES".into(),
            dir.join("node_modules").display().to_string(),
        )],
        ..Options::default()
    }
}

/// A chaincode server's TLS files (in a temporary directory) and the `ccaas` package that dials
/// it on 127.0.0.1 with TLS and client authentication: what a shim-as-a-service test sets up
/// before it starts its server.
pub struct CaasFixture {
    /// Holds `server.crt`, `server.key` (PKCS#8) and `ca.crt`.
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub pkg: Vec<u8>,
    pub id: String,
}

impl CaasFixture {
    /// A CA, a server certificate for `server_host`, a client certificate for the peer, and the
    /// package `label`; `domain` overrides the name the peer checks the server certificate for.
    pub fn new(label: &str, server_host: &str, domain: Option<&str>) -> CaasFixture {
        let ca = devpeer::tls::TlsCa::generate().unwrap();
        let server = ca.server_cert(server_host).unwrap();
        let client = ca.client_cert("peer0").unwrap();
        let port = free_port();
        let mut conn = serde_json::json!({
            "address": format!("127.0.0.1:{port}"),
            "dial_timeout": "10s",
            "tls_required": true,
            "client_auth_required": true,
            "root_cert": ca.cert_pem(),
            "client_cert": client.cert_pem,
            // Fabric-style key PEM: label "EC PRIVATE KEY" around PKCS#8.
            "client_key": client.key_pem_fabric(),
        });
        if let Some(domain) = domain {
            conn["domain"] = domain.into();
        }
        let conn = conn.to_string();
        let pkg = package(label, "ccaas", &[("connection.json", conn.as_bytes())]);
        let id = package_id(label, &pkg);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.crt"), &server.cert_pem).unwrap();
        std::fs::write(dir.path().join("server.key"), server.key_pem_pkcs8()).unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca.cert_pem()).unwrap();
        CaasFixture { dir, port, pkg, id }
    }

    /// A file of the fixture's directory (`server.crt`, `server.key`, `ca.crt`, a log).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`; panics with
/// "`what` did not listen" after `timeout`.
pub fn wait_for_listener(port: u16, timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads `devpeer up`'s start banner from its piped stdout: asserts the first line says it is
/// up and returns the lines after it, up to "Stop with ...". All of it is read because closing
/// the pipe early would make its printing fail.
pub fn read_up_banner(child: &mut Child) -> Vec<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().expect("up printed nothing").expect("utf8");
    assert!(first.starts_with("devpeer is up"), "{first}");
    let mut rest = Vec::new();
    for line in lines {
        let line = line.expect("utf8");
        let last = line.starts_with("Stop with");
        rest.push(line);
        if last {
            break;
        }
    }
    rest
}

/// A child process killed when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
