//! Runs the external builder scripts under `fabric/externalBuilder` the way a Fabric peer does
//! (same arguments, prepared directories, an environment holding only PATH, TMPDIR and the
//! propagated variables), and checks `ercc package` output by unpacking it like the peer.
//!
//! Every script runs under dash with a PATH like the stock `hyperledger/fabric-peer` image's
//! (Ubuntu: dash, coreutils, mawk, and no `jq`); the BusyBox test repeats the main paths under ash.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clap::Parser;
use ercc::package::{self, Connection, PackageArgs};
use sha2::Digest;
use tempfile::TempDir;

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fpc_c(script: &str) -> PathBuf {
    repo_root()
        .join("fabric/externalBuilder/chaincode/bin")
        .join(script)
}

fn launcher(script: &str) -> PathBuf {
    repo_root()
        .join("fabric/externalBuilder/chaincode_server/bin")
        .join(script)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/builders")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    fs::read_to_string(fixture(name)).unwrap()
}

/// Finds a program on the machine's usual PATH.
fn which(tool: &str) -> Option<PathBuf> {
    PATH.split(':')
        .map(|p| Path::new(p).join(tool))
        .find(|p| p.exists())
}

/// The tools of the stock fabric-peer image that the builders (and the fake ercc) may use.
const STOCK_TOOLS: &[&str] = &[
    "cp", "mkdir", "chmod", "mktemp", "rm", "cat", "dirname", "env", "sort", "sed", "stat", "mv",
    "sleep", "ls", "tr", "cmp",
];

/// A folder of links standing in for the stock peer image's PATH: `sh` is dash, `awk` is the
/// machine's awk (mawk on Debian and Ubuntu), no `jq`. `with_awk` false leaves awk out too.
fn tool_dir(dir: &Path, with_awk: bool) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    symlink(dash(), dir.join("sh")).unwrap();
    let awk = with_awk.then_some("awk");
    for tool in STOCK_TOOLS.iter().copied().chain(awk) {
        symlink(which(tool).unwrap(), dir.join(tool)).unwrap();
    }
    dir.to_owned()
}

/// dash, the stock peer image's /bin/sh. `.ci/run` installs it; Debian always has it.
fn dash() -> PathBuf {
    which("dash").expect("dash is not installed (apt-get install dash; .ci/run does)")
}

/// The stock-peer PATH shared by all tests of this process.
fn stock_path() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("builders-stock-peer-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        tool_dir(&dir, true)
    })
}

/// A peer-like invocation under dash: nothing from the test's own environment leaks in.
fn command(script: &Path, args: &[&Path], tmp: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(dash());
    cmd.arg(script)
        .args(args)
        .env_clear()
        .env("PATH", stock_path())
        .env("TMPDIR", tmp)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(script: &Path, args: &[&Path], tmp: &Path, env: &[(&str, &str)]) -> Output {
    command(script, args, tmp, env).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        stderr(out)
    );
}

#[track_caller]
fn assert_fails(out: &Output, needle: &str) {
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {}",
        stderr(out)
    );
    assert!(
        stderr(out).contains(needle),
        "stderr does not mention {needle:?}: {}",
        stderr(out)
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn write_exec(path: &Path, content: &[u8], mode: u32) {
    fs::write(path, content).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The directories the peer hands to detect/build/release/run.
struct Dirs {
    tmp: TempDir,
    src: PathBuf,
    meta: PathBuf,
    bld: PathBuf,
    rel: PathBuf,
    runmeta: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let d = |n: &str| {
            let p = tmp.path().join(n);
            fs::create_dir(&p).unwrap();
            p
        };
        Dirs {
            src: d("src"),
            meta: d("meta"),
            bld: d("bld"),
            rel: d("rel"),
            runmeta: d("run"),
            tmp,
        }
    }

    fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    fn metadata(&self, json: &str) {
        fs::write(self.meta.join("metadata.json"), json).unwrap();
    }

    fn detect(&self, script: &Path, env: &[(&str, &str)]) -> Output {
        run(script, &[&self.src, &self.meta], self.tmp(), env)
    }

    fn build(&self, script: &Path, env: &[(&str, &str)]) -> Output {
        run(script, &[&self.src, &self.meta, &self.bld], self.tmp(), env)
    }

    fn release(&self, script: &Path) -> Output {
        run(script, &[&self.bld, &self.rel], self.tmp(), &[])
    }
}

fn ercc_meta(t: &str) -> String {
    format!(r#"{{"path":"","type":"{t}","label":"ercc_1"}}"#)
}

const MALFORMED_METADATA: &[&str] = &[
    "",
    "not json",
    "[]",
    r#"{"label":"x"}"#,
    r#"{"type":7}"#,
    r#"{"type":"ercc-type"} {"type":"ercc-type"}"#,
    r#"{"type":"ercc-type""#,
];

// ---------------------------------------------------------------------------------------------
// fpc-c: detect / build / release

#[test]
fn fpc_c_detect_accepts_ercc_type_in_any_case() {
    for t in ["ercc-type", "ERCC-TYPE", "Ercc-Type"] {
        let d = Dirs::new();
        d.metadata(&ercc_meta(t));
        assert_ok(&d.detect(&fpc_c("detect"), &[]));
    }
}

#[test]
fn fpc_c_detect_refuses_other_types() {
    for t in ["external", "ccaas", "golang", "ercc", ""] {
        let d = Dirs::new();
        d.metadata(&ercc_meta(t));
        let out = d.detect(&fpc_c("detect"), &[]);
        assert_eq!(out.status.code(), Some(1), "type {t:?}");
        assert_fails(&out, "is not ercc-type");
    }
}

#[test]
fn fpc_c_detect_refuses_malformed_metadata() {
    for bad in MALFORMED_METADATA {
        let d = Dirs::new();
        d.metadata(bad);
        assert_fails(&d.detect(&fpc_c("detect"), &[]), "malformed");
    }
    let d = Dirs::new();
    assert_fails(&d.detect(&fpc_c("detect"), &[]), "no metadata.json");
}

#[test]
fn metadata_json_is_read_as_json_without_jq() {
    // Accepted: escapes decode before the type is compared, nested members are skipped.
    for ok in [
        r#"{"path":"","type":"\u0065rcc-\u0054ype","label":"x"}"#,
        r#" {"x":[{"y":[1,2e3,-0.5,true,false,null,"\"}"]}],"type":"ercc-type"} "#,
        "{\n  \"type\" :\t\"ercc-type\"\r\n}\n",
        r#"{"type":"other","type":"ercc-type"}"#,
    ] {
        let d = Dirs::new();
        d.metadata(ok);
        assert_ok(&d.detect(&fpc_c("detect"), &[]));
    }
    let big = format!(
        r#"{{"type":"ercc-type","pad":"{}"}}"#,
        "x".repeat(200 * 1024)
    );
    let deep = format!(r#"{{"type":"ercc-type","x":{}}}"#, "[".repeat(1000));
    for (bad, needle) in [
        ("{\"type\":\"ercc\u{0}-type\"}".to_owned(), "NUL byte"),
        ("{\"type\":\"ercc-type\"}\u{0}x".to_owned(), "NUL byte"),
        (
            r#"{"type":"ercc-type",}"#.to_owned(),
            "expected a member name",
        ),
        (r#"{"type":"ercc\x-type"}"#.to_owned(), "unknown escape"),
        ("{\"type\":\"ercc\ttype\"}".to_owned(), "control character"),
        (
            r#"{"type":"ercc-type","n":01}"#.to_owned(),
            "malformed number",
        ),
        (r#"{"type":"ercc-type"]"#.to_owned(), "expected ',' or '}'"),
        (r#"{"type":"\u00"}"#.to_owned(), "four hex digits"),
        (big, "larger than 131072 bytes"),
        (deep, "nested deeper than 512 levels"),
    ] {
        let d = Dirs::new();
        d.metadata(&bad);
        let out = d.detect(&fpc_c("detect"), &[]);
        assert_fails(&out, "malformed");
        assert_fails(&out, needle);
    }
}

#[test]
fn fpc_c_build_and_release() {
    let d = Dirs::new();
    d.metadata(&ercc_meta("ercc-type"));
    let binary = b"#!/bin/sh\necho not really ercc\n";
    write_exec(&d.src.join("ercc"), binary, 0o755);
    let idx = d.src.join("META-INF/statedb/couchdb/indexes");
    fs::create_dir_all(&idx).unwrap();
    fs::write(idx.join("byOrg.json"), br#"{"index":{}}"#).unwrap();

    assert_ok(&d.build(&fpc_c("build"), &[]));
    assert_eq!(fs::read(d.bld.join("chaincode")).unwrap(), binary);
    assert_eq!(mode(&d.bld.join("chaincode")), 0o755);
    assert_eq!(
        fs::read_to_string(d.bld.join("metadata.json")).unwrap(),
        ercc_meta("ercc-type")
    );

    assert_ok(&d.release(&fpc_c("release")));
    assert_eq!(
        fs::read(d.rel.join("statedb/couchdb/indexes/byOrg.json")).unwrap(),
        br#"{"index":{}}"#
    );
    // No connection.json: the peer must call run, not dial.
    assert!(!d.rel.join("chaincode/server/connection.json").exists());
}

#[test]
fn fpc_c_release_without_indexes_is_a_no_op() {
    let d = Dirs::new();
    d.metadata(&ercc_meta("ercc-type"));
    write_exec(&d.src.join("ercc"), b"x", 0o755);
    assert_ok(&d.build(&fpc_c("build"), &[]));
    assert_ok(&d.release(&fpc_c("release")));
    assert_eq!(fs::read_dir(&d.rel).unwrap().count(), 0);
}

#[test]
fn fpc_c_build_makes_the_binary_executable() {
    let d = Dirs::new();
    d.metadata(&ercc_meta("ercc-type"));
    write_exec(&d.src.join("ercc"), b"binary", 0o644);
    assert_ok(&d.build(&fpc_c("build"), &[]));
    assert_eq!(mode(&d.bld.join("chaincode")), 0o755);
}

#[test]
fn fpc_c_build_refuses_bad_layouts() {
    // No binary at all.
    let d = Dirs::new();
    d.metadata(&ercc_meta("ercc-type"));
    fs::write(d.src.join("chaincode"), b"wrong name").unwrap();
    assert_fails(&d.build(&fpc_c("build"), &[]), "has no 'ercc' binary");
    assert!(!d.bld.join("chaincode").exists());

    // A directory where the binary should be.
    let d = Dirs::new();
    d.metadata(&ercc_meta("ercc-type"));
    fs::create_dir(d.src.join("ercc")).unwrap();
    assert_fails(&d.build(&fpc_c("build"), &[]), "not a regular file");

    // An empty binary.
    let d = Dirs::new();
    d.metadata(&ercc_meta("ercc-type"));
    write_exec(&d.src.join("ercc"), b"", 0o755);
    assert_fails(&d.build(&fpc_c("build"), &[]), "is empty");

    // Wrong type.
    let d = Dirs::new();
    d.metadata(&ercc_meta("external"));
    write_exec(&d.src.join("ercc"), b"x", 0o755);
    assert_fails(&d.build(&fpc_c("build"), &[]), "is not ercc-type");
    assert!(!d.bld.join("chaincode").exists());

    // Malformed metadata.json.
    for bad in MALFORMED_METADATA {
        let d = Dirs::new();
        d.metadata(bad);
        write_exec(&d.src.join("ercc"), b"x", 0o755);
        assert_fails(&d.build(&fpc_c("build"), &[]), "malformed");
        assert!(!d.bld.join("chaincode").exists());
    }
}

#[test]
fn scripts_refuse_wrong_argument_counts() {
    let d = Dirs::new();
    for script in [
        fpc_c("detect"),
        fpc_c("build"),
        fpc_c("release"),
        fpc_c("run"),
    ] {
        assert_fails(&run(&script, &[&d.src], d.tmp(), &[]), "usage:");
    }
    for script in [launcher("detect"), launcher("build"), launcher("release")] {
        assert_fails(&run(&script, &[&d.src], d.tmp(), &[]), "usage:");
    }
}

#[test]
fn scripts_are_executable_and_posix_sh() {
    for script in [
        fpc_c("detect"),
        fpc_c("build"),
        fpc_c("release"),
        fpc_c("run"),
        launcher("detect"),
        launcher("build"),
        launcher("release"),
    ] {
        assert_eq!(mode(&script), 0o755, "{}", script.display());
        let text = fs::read_to_string(&script).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{}", script.display());
        assert!(!text.contains("jq"), "{} mentions jq", script.display());
    }
    let lib = repo_root().join("fabric/externalBuilder/lib/builder.sh");
    assert!(!fs::read_to_string(&lib).unwrap().contains("jq "));
    for script in std::iter::once(lib).chain(
        ["detect", "build", "release", "run"]
            .into_iter()
            .map(fpc_c)
            .chain(["detect", "build", "release"].into_iter().map(launcher)),
    ) {
        // `dash -n` parses without running: catches syntax errors and bashisms dash refuses.
        let out = Command::new(dash())
            .arg("-n")
            .arg(&script)
            .output()
            .unwrap();
        assert_ok(&out);
    }
    // Fabric's ccaas_builder layout has no run; neither does the launcher (the peer dials).
    assert!(!launcher("run").exists());
}

#[test]
fn stock_path_has_no_jq() {
    // The whole point of the stock-peer PATH: a builder that still called jq would fail here.
    assert!(!stock_path().join("jq").exists());
    assert!(stock_path().join("awk").exists());
    let out = Command::new(stock_path().join("sh"))
        .arg("-c")
        .arg("command -v jq || echo none")
        .env_clear()
        .env("PATH", stock_path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "none");
}

#[test]
fn scripts_say_when_awk_is_missing() {
    let d = Dirs::new();
    let bin = tool_dir(&d.tmp().join("noawk-bin"), false);
    d.metadata(&ercc_meta("ercc-type"));
    write_exec(&d.src.join("ercc"), b"x", 0o755);
    let cases: Vec<(PathBuf, Vec<&Path>)> = vec![
        (fpc_c("detect"), vec![&d.src, &d.meta]),
        (fpc_c("build"), vec![&d.src, &d.meta, &d.bld]),
        (fpc_c("run"), vec![&d.bld, &d.runmeta]),
        (launcher("detect"), vec![&d.src, &d.meta]),
        (launcher("build"), vec![&d.src, &d.meta, &d.bld]),
    ];
    for (script, args) in cases {
        let out = command(&script, &args, d.tmp(), &[])
            .env("PATH", &bin)
            .output()
            .unwrap();
        assert_fails(&out, "awk is required but not on PATH");
    }
}

#[test]
fn scripts_say_when_their_library_is_missing() {
    // An operator who copies only bin/ gets told what is missing, not a shell error.
    let d = Dirs::new();
    let bin = d.tmp().join("chaincode/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy(fpc_c("detect"), bin.join("detect")).unwrap();
    d.metadata(&ercc_meta("ercc-type"));
    let out = run(&bin.join("detect"), &[&d.src, &d.meta], d.tmp(), &[]);
    assert_fails(&out, "install the whole fabric/externalBuilder folder");
}

// ---------------------------------------------------------------------------------------------
// fpc-c: run

fn chaincode_json(tls: bool) -> String {
    let (cert, key, root) = if tls {
        (
            fixture_text("client.pem"),
            // What the peer passes: label EC PRIVATE KEY, PKCS#8 inside.
            fixture_text("client.key").replace("PRIVATE KEY", "EC PRIVATE KEY"),
            fixture_text("ca.pem"),
        )
    } else {
        Default::default()
    };
    serde_json::json!({
        "chaincode_id": "ercc_1:0123456789abcdef",
        "peer_address": "127.0.0.1:7052",
        "client_cert": cert,
        "client_key": key,
        "root_cert": root,
        "mspid": "Org1MSP",
    })
    .to_string()
}

/// A build output directory holding the fake ercc, as fpc-c build would leave it.
fn run_dirs(chaincode_json: &str) -> Dirs {
    let d = Dirs::new();
    fs::copy(fixture("fake-ercc.sh"), d.bld.join("chaincode")).unwrap();
    fs::set_permissions(d.bld.join("chaincode"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(d.runmeta.join("chaincode.json"), chaincode_json).unwrap();
    d
}

struct Record {
    lines: Vec<String>,
}

impl Record {
    fn read(path: &Path) -> Record {
        Record {
            lines: fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect(),
        }
    }
    fn env(&self, name: &str) -> Option<String> {
        let prefix = format!("ENV:{name}=");
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
    }
    fn values(&self, prefix: &str) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| l.strip_prefix(prefix).map(str::to_owned))
            .collect()
    }
}

#[test]
fn fpc_c_run_with_tls_exports_the_runtime_variables() {
    let d = run_dirs(&chaincode_json(true));
    let out_file = d.tmp().join("record");
    let out = run(
        &fpc_c("run"),
        &[&d.bld, &d.runmeta],
        d.tmp(),
        &[
            ("FAKE_OUT", out_file.to_str().unwrap()),
            ("FABRIC_LOGGING_SPEC", "ercc=DEBUG:warning"),
            // Left over in a peer environment: must not shadow the fresh *_FILE credentials.
            ("CORE_TLS_CLIENT_KEY_PATH", "/stale/key.b64"),
        ],
    );
    // The chaincode's exit status is the script's.
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    let rec = Record::read(&out_file);

    assert_eq!(rec.values("ARG="), vec!["-peer.address=127.0.0.1:7052"]);
    assert_eq!(
        rec.values("PWD="),
        vec![d.bld.canonicalize().unwrap().to_str().unwrap()]
    );
    assert_eq!(
        rec.env("CORE_CHAINCODE_ID_NAME").as_deref(),
        Some("ercc_1:0123456789abcdef")
    );
    assert_eq!(rec.env("CORE_PEER_TLS_ENABLED").as_deref(), Some("true"));
    assert_eq!(rec.env("CORE_PEER_LOCALMSPID").as_deref(), Some("Org1MSP"));
    assert_eq!(
        rec.env("FABRIC_LOGGING_SPEC").as_deref(),
        Some("ercc=DEBUG:warning")
    );
    assert_eq!(rec.env("CORE_TLS_CLIENT_KEY_PATH"), None);
    // The private umask used for the key files does not leak into the chaincode.
    let umask = Command::new("sh").arg("-c").arg("umask").output().unwrap();
    assert_eq!(
        rec.values("UMASK="),
        vec![String::from_utf8(umask.stdout).unwrap().trim().to_owned()]
    );

    let expected = [
        ("CORE_TLS_CLIENT_CERT_FILE", fixture_text("client.pem")),
        (
            "CORE_TLS_CLIENT_KEY_FILE",
            fixture_text("client.key").replace("PRIVATE KEY", "EC PRIVATE KEY"),
        ),
        ("CORE_PEER_TLS_ROOTCERT_FILE", fixture_text("ca.pem")),
    ];
    let mut dirs = Vec::new();
    for (var, pem) in expected {
        let path = PathBuf::from(rec.env(var).unwrap_or_else(|| panic!("{var} not set")));
        // The copy the fake made while the file existed, byte for byte.
        let copy = fs::read_to_string(format!("{}.{var}", out_file.display())).unwrap();
        assert_eq!(copy, pem, "{var}");
        assert_eq!(rec.values(&format!("MODE:{var}=")), vec!["600"], "{var}");
        assert_eq!(rec.values(&format!("DIRMODE:{var}=")), vec!["700"], "{var}");
        // In a private directory under TMPDIR, removed once the chaincode has exited.
        assert!(path.starts_with(d.tmp()), "{}", path.display());
        dirs.push(path.parent().unwrap().to_owned());
    }
    dirs.dedup();
    assert_eq!(dirs.len(), 1, "all TLS files in one directory");
    assert!(!dirs[0].exists(), "TLS directory left behind");
}

#[test]
fn fpc_c_run_without_tls() {
    let d = run_dirs(&chaincode_json(false));
    let out_file = d.tmp().join("record");
    let out = run(
        &fpc_c("run"),
        &[&d.bld, &d.runmeta],
        d.tmp(),
        &[
            ("FAKE_OUT", out_file.to_str().unwrap()),
            ("FAKE_STATUS", "0"),
            ("CORE_TLS_CLIENT_CERT_FILE", "/stale/cert.pem"),
        ],
    );
    assert_ok(&out);
    let rec = Record::read(&out_file);
    assert_eq!(rec.env("CORE_PEER_TLS_ENABLED").as_deref(), Some("false"));
    assert_eq!(rec.env("CORE_TLS_CLIENT_CERT_FILE"), None);
    assert_eq!(rec.env("CORE_TLS_CLIENT_KEY_FILE"), None);
    assert_eq!(rec.env("CORE_PEER_TLS_ROOTCERT_FILE"), None);
    assert_eq!(rec.values("ARG="), vec!["-peer.address=127.0.0.1:7052"]);
    // Nothing written under TMPDIR besides the test's own files.
    let leftovers: Vec<_> = fs::read_dir(d.tmp())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("fpc-c"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn wait_for(path: &Path, timeout: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < timeout,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills what a failed signal test would leave behind (a run script and a fake that never
/// stop would also hold the test's output pipe open, hanging the whole test run).
struct KillOnDrop(Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn signal_forwarding(signal: &str) {
    let d = run_dirs(&chaincode_json(true));
    let out_file = d.tmp().join("record");
    let mut child = command(
        &fpc_c("run"),
        &[&d.bld, &d.runmeta],
        d.tmp(),
        &[
            ("FAKE_OUT", out_file.to_str().unwrap()),
            ("FAKE_MODE", "wait"),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut guard = KillOnDrop(vec![child.id()]);
    wait_for(
        &PathBuf::from(format!("{}.ready", out_file.display())),
        Duration::from_secs(20),
    );
    // Still in the foreground while the chaincode runs.
    assert!(child.try_wait().unwrap().is_none(), "run returned early");
    let rec = Record::read(&out_file);
    guard.0.push(rec.values("PID=")[0].parse().unwrap());
    let tls_dir = PathBuf::from(rec.env("CORE_TLS_CLIENT_CERT_FILE").unwrap())
        .parent()
        .unwrap()
        .to_owned();
    assert!(tls_dir.exists());

    // Like the peer: signal the run script's process only.
    let kill = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "run did not stop within the peer's 5 s grace period"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    // The fake exits 7 on SIGTERM: the script waited for it and passed its status on.
    assert_eq!(status.code(), Some(7), "stderr: {err}");
    assert_eq!(Record::read(&out_file).values("SIGNAL="), vec!["TERM"]);
    assert!(!tls_dir.exists(), "TLS directory left behind");
}

#[test]
fn fpc_c_run_forwards_sigterm_and_returns_the_chaincode_status() {
    signal_forwarding("TERM");
}

#[test]
fn fpc_c_run_forwards_sigint_as_sigterm() {
    signal_forwarding("INT");
}

#[test]
fn fpc_c_run_refuses_bad_chaincode_json() {
    let good: serde_json::Value = serde_json::from_str(&chaincode_json(true)).unwrap();
    let with = |k: &str, v: serde_json::Value| {
        let mut j = good.clone();
        j[k] = v;
        j.to_string()
    };
    let without = |k: &str| {
        let mut j = good.clone();
        j.as_object_mut().unwrap().remove(k);
        j.to_string()
    };
    let cases = [
        ("not json".to_owned(), "malformed"),
        ("[]".to_owned(), "must be a JSON object"),
        (without("peer_address"), "\"peer_address\" must be a string"),
        (
            with("peer_address", "".into()),
            "\"peer_address\" must not be empty",
        ),
        (
            with("chaincode_id", "".into()),
            "\"chaincode_id\" must not be empty",
        ),
        (with("mspid", 7.into()), "\"mspid\" must be a string"),
        (without("client_key"), "\"client_key\" must be a string"),
        (
            with("client_key", "".into()),
            "client_key or root_cert is empty",
        ),
        (
            with("root_cert", "".into()),
            "client_key or root_cert is empty",
        ),
        (format!("{good} {good}"), "exactly one JSON value"),
    ];
    for (json, needle) in cases {
        let d = run_dirs(&json);
        let out_file = d.tmp().join("record");
        let out = run(
            &fpc_c("run"),
            &[&d.bld, &d.runmeta],
            d.tmp(),
            &[("FAKE_OUT", out_file.to_str().unwrap())],
        );
        assert_fails(&out, needle);
        assert!(!out_file.exists(), "chaincode started despite {json}");
    }

    // No chaincode.json at all.
    let d = run_dirs("{}");
    fs::remove_file(d.runmeta.join("chaincode.json")).unwrap();
    let out = run(&fpc_c("run"), &[&d.bld, &d.runmeta], d.tmp(), &[]);
    assert_fails(&out, "no chaincode.json");

    // A build directory without the binary.
    let d = run_dirs(&chaincode_json(false));
    fs::remove_file(d.bld.join("chaincode")).unwrap();
    let out = run(&fpc_c("run"), &[&d.bld, &d.runmeta], d.tmp(), &[]);
    assert_fails(&out, "no executable chaincode");
}

// ---------------------------------------------------------------------------------------------
// fpc-external-launcher

fn conn(address: &str) -> serde_json::Value {
    serde_json::json!({"address": address, "dial_timeout": "10s", "tls_required": false})
}

fn launcher_dirs(peers: &[(&str, &str)]) -> Dirs {
    let d = Dirs::new();
    d.metadata(r#"{"path":"","type":"external","label":"ercc_caas"}"#);
    for (peer, json) in peers {
        fs::create_dir_all(d.src.join(peer)).unwrap();
        fs::write(d.src.join(peer).join("connection.json"), json).unwrap();
    }
    d
}

#[test]
fn launcher_detect_accepts_external_only() {
    for t in ["external", "EXTERNAL", "External"] {
        let d = Dirs::new();
        d.metadata(&ercc_meta(t));
        assert_ok(&d.detect(&launcher("detect"), &[]));
    }
    for t in ["ercc-type", "ccaas", "golang"] {
        let d = Dirs::new();
        d.metadata(&ercc_meta(t));
        let out = d.detect(&launcher("detect"), &[]);
        assert_eq!(out.status.code(), Some(1));
        assert_fails(&out, "is not external");
    }
    for bad in MALFORMED_METADATA {
        let d = Dirs::new();
        d.metadata(bad);
        assert_fails(&d.detect(&launcher("detect"), &[]), "malformed");
    }
}

#[test]
fn launcher_build_release_per_peer() {
    let c0 = conn("ercc.org1:9999").to_string();
    let c1 = serde_json::json!({
        "address": "ercc.org2:9999",
        "dial_timeout": "1m30s",
        "tls_required": true,
        "client_auth_required": true,
        "root_cert": fixture_text("ca.pem"),
        "client_cert": fixture_text("client.pem"),
        "client_key": fixture_text("client.key"),
        "domain": "ercc.example.com",
    })
    .to_string();
    let d = launcher_dirs(&[("peer0.org1", &c0), ("peer0.org2", &c1)]);
    let idx = d.src.join("metadata/statedb/couchdb/indexes");
    fs::create_dir_all(&idx).unwrap();
    fs::write(idx.join("i.json"), b"{}").unwrap();

    assert_ok(&d.detect(&launcher("detect"), &[("CORE_PEER_ID", "peer0.org2")]));
    assert_ok(&d.build(&launcher("build"), &[("CORE_PEER_ID", "peer0.org2")]));
    assert_eq!(
        fs::read_to_string(d.bld.join("connection.json")).unwrap(),
        c1
    );
    assert_ok(&d.release(&launcher("release")));
    assert_eq!(
        fs::read_to_string(d.rel.join("chaincode/server/connection.json")).unwrap(),
        c1
    );
    assert_eq!(
        fs::read(d.rel.join("statedb/couchdb/indexes/i.json")).unwrap(),
        b"{}"
    );
}

#[test]
fn launcher_accepts_ccaas_builder_layout() {
    let top = conn("ercc:9999").to_string();
    // Without CORE_PEER_ID: the single top-level connection.json serves every peer.
    let d = launcher_dirs(&[(".", &top)]);
    let meta_inf = d.src.join("META-INF/statedb/couchdb/indexes");
    fs::create_dir_all(&meta_inf).unwrap();
    fs::write(meta_inf.join("j.json"), b"{}").unwrap();
    assert_ok(&d.build(&launcher("build"), &[]));
    assert_ok(&d.release(&launcher("release")));
    assert_eq!(
        fs::read_to_string(d.rel.join("chaincode/server/connection.json")).unwrap(),
        top
    );
    assert_eq!(
        fs::read(d.rel.join("statedb/couchdb/indexes/j.json")).unwrap(),
        b"{}"
    );

    // With CORE_PEER_ID but no directory for it: still the top-level one.
    let d = launcher_dirs(&[(".", &top)]);
    assert_ok(&d.build(&launcher("build"), &[("CORE_PEER_ID", "peer0")]));
    assert_eq!(
        fs::read_to_string(d.bld.join("connection.json")).unwrap(),
        top
    );

    // Both: this peer's own file wins.
    let own = conn("ercc-for-peer0:9999").to_string();
    let d = launcher_dirs(&[(".", &top), ("peer0", &own)]);
    assert_ok(&d.build(&launcher("build"), &[("CORE_PEER_ID", "peer0")]));
    assert_eq!(
        fs::read_to_string(d.bld.join("connection.json")).unwrap(),
        own
    );
}

#[test]
fn launcher_accepts_valid_connection_variants() {
    let variants = [
        serde_json::json!({"address": "h:1"}),
        serde_json::json!({"address": "[::1]:7052", "dial_timeout": 5_000_000_000u64}),
        serde_json::json!({"address": "10.0.0.1:65535", "dial_timeout": "0"}),
        serde_json::json!({"address": "h:1", "dial_timeout": "1.5s", "tls_required": false,
                           "client_auth_required": false}),
        serde_json::json!({"address": "h:1", "dial_timeout": "300ms", "tls_required": true,
                           "root_cert": fixture_text("ca.pem")}),
        serde_json::json!({"address": "h:1", "dial_timeout": "2h45m", "unknown_key": 1}),
        // Go's grammar in full: a sign, bare fractions, both micro signs, zero with a sign.
        serde_json::json!({"address": "h:1", "dial_timeout": "+1s"}),
        serde_json::json!({"address": "h:1", "dial_timeout": ".5s"}),
        serde_json::json!({"address": "h:1", "dial_timeout": "1.5\u{b5}s"}),
        serde_json::json!({"address": "h:1", "dial_timeout": "7\u{3bc}s"}),
        serde_json::json!({"address": "h:1", "dial_timeout": "-0s"}),
    ];
    for v in variants {
        let d = launcher_dirs(&[("p", &v.to_string())]);
        assert_ok(&d.build(&launcher("build"), &[("CORE_PEER_ID", "p")]));
    }
}

#[test]
fn launcher_refuses_bad_connection_json() {
    let ca = fixture_text("ca.pem");
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "invalid"),
        ("".into(), "invalid"),
        ("[1]".into(), "not a JSON object"),
        (r#"{"address":"h:1"} {}"#.into(), "exactly one JSON value"),
        ("{}".into(), "\"address\" (host:port) is required"),
        (
            r#"{"address":""}"#.into(),
            "\"address\" (host:port) is required",
        ),
        (
            r#"{"address":7}"#.into(),
            "\"address\" (host:port) is required",
        ),
        (r#"{"address":"h"}"#.into(), "must be host:port"),
        (r#"{"address":"h:x"}"#.into(), "must be host:port"),
        (r#"{"address":"a b:1"}"#.into(), "must be host:port"),
        (r#"{"address":"h:0"}"#.into(), "port must be 1-65535"),
        (r#"{"address":"h:70000"}"#.into(), "port must be 1-65535"),
        (
            r#"{"address":"{{.peername}}_ercc:9999"}"#.into(),
            "template",
        ),
        (
            r#"{"address":"h:1","dial_timeout":""}"#.into(),
            "Go duration",
        ),
        (
            r#"{"address":"h:1","dial_timeout":"10"}"#.into(),
            "Go duration",
        ),
        (
            r#"{"address":"h:1","dial_timeout":"-1s"}"#.into(),
            "Go duration",
        ),
        (
            r#"{"address":"h:1","dial_timeout":"ten seconds"}"#.into(),
            "Go duration",
        ),
        (
            r#"{"address":"h:1","dial_timeout":"1e3s"}"#.into(),
            "Go duration",
        ),
        (
            r#"{"address":"h:1","dial_timeout":"3000000h"}"#.into(),
            "Go duration",
        ),
        (
            r#"{"address":"h:1","dial_timeout":1.5}"#.into(),
            "whole nanoseconds",
        ),
        (
            r#"{"address":"h:1","dial_timeout":-1}"#.into(),
            "whole nanoseconds",
        ),
        (
            r#"{"address":"h:1","dial_timeout":true}"#.into(),
            "\"dial_timeout\" must be",
        ),
        (
            r#"{"address":"h:1","tls_required":"true"}"#.into(),
            "\"tls_required\" must be a JSON boolean",
        ),
        (
            r#"{"address":"h:1","tls_required":null}"#.into(),
            "\"tls_required\" must be a JSON boolean",
        ),
        (
            r#"{"address":"h:1","client_auth_required":1}"#.into(),
            "\"client_auth_required\" must be a JSON boolean",
        ),
        (
            r#"{"address":"h:1","tls_required":true}"#.into(),
            "\"root_cert\" must be a PEM string",
        ),
        (
            r#"{"address":"h:1","tls_required":true,"root_cert":"not pem"}"#.into(),
            "\"root_cert\" must be a PEM string",
        ),
        (
            r#"{"address":"h:1","domain":5}"#.into(),
            "\"domain\" must be a string",
        ),
        (
            serde_json::json!({"address":"h:1","tls_required":true,"root_cert":ca,
                               "client_auth_required":true})
            .to_string(),
            "\"client_cert\" must be a PEM string",
        ),
        (
            serde_json::json!({"address":"h:1","tls_required":true,"root_cert":ca,
                               "client_auth_required":true,"client_cert":ca})
            .to_string(),
            "\"client_key\" must be a PEM string",
        ),
        (
            serde_json::json!({"address":"h:1","client_auth_required":true}).to_string(),
            "needs \"tls_required\": true",
        ),
    ];
    for (json, needle) in cases {
        let d = launcher_dirs(&[("p", &json)]);
        let out = d.build(&launcher("build"), &[("CORE_PEER_ID", "p")]);
        assert_fails(&out, needle);
        assert!(!d.bld.join("connection.json").exists(), "built from {json}");
    }
}

#[test]
fn launcher_refuses_bad_layouts() {
    let c = conn("h:1").to_string();

    // Per-peer layout but the peer did not propagate CORE_PEER_ID.
    let d = launcher_dirs(&[("peer0", &c)]);
    assert_fails(&d.build(&launcher("build"), &[]), "CORE_PEER_ID is not set");

    // This peer is not in the package: the message lists who is.
    let d = launcher_dirs(&[("peer0", &c), ("peer1", &c)]);
    let out = d.build(&launcher("build"), &[("CORE_PEER_ID", "peer9")]);
    assert_fails(&out, "no peer9/connection.json");
    assert_fails(&out, "peers in the package: peer0 peer1");

    // A peer directory without connection.json.
    let d = launcher_dirs(&[]);
    fs::create_dir(d.src.join("peer0")).unwrap();
    assert_fails(
        &d.build(&launcher("build"), &[("CORE_PEER_ID", "peer0")]),
        "no peer0/connection.json",
    );

    // A CORE_PEER_ID that would escape the package directory.
    for id in ["..", "../peer0", "a/b", "."] {
        let d = launcher_dirs(&[("peer0", &c)]);
        assert_fails(
            &d.build(&launcher("build"), &[("CORE_PEER_ID", id)]),
            "cannot name a directory",
        );
    }

    // Wrong type.
    let d = launcher_dirs(&[("peer0", &c)]);
    d.metadata(&ercc_meta("ercc-type"));
    assert_fails(
        &d.build(&launcher("build"), &[("CORE_PEER_ID", "peer0")]),
        "is not external",
    );

    // Malformed metadata.json.
    for bad in MALFORMED_METADATA {
        let d = launcher_dirs(&[("peer0", &c)]);
        d.metadata(bad);
        assert_fails(
            &d.build(&launcher("build"), &[("CORE_PEER_ID", "peer0")]),
            "malformed",
        );
    }

    // release with nothing built.
    let d = Dirs::new();
    assert_fails(&d.release(&launcher("release")), "no connection.json");
    assert!(!d.rel.join("chaincode").exists());
}

// ---------------------------------------------------------------------------------------------
// ercc package

/// `ercc package ...` exactly as the binary parses it.
#[derive(Parser)]
#[command(name = "ercc")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    Package(PackageArgs),
}

fn package_cli(args: &[&str]) -> Result<(), String> {
    let cli = Cli::try_parse_from(std::iter::once("ercc").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    let Cmd::Package(a) = cli.cmd;
    package::run(a).map_err(|e| e.to_string())
}

struct Entry {
    path: String,
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    data: Vec<u8>,
}

fn entries(tar_gz: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tar_gz));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            Entry {
                path: e.path().unwrap().to_str().unwrap().to_owned(),
                kind: h.entry_type(),
                mode: h.mode().unwrap(),
                uid: h.uid().unwrap(),
                gid: h.gid().unwrap(),
                mtime: h.mtime().unwrap(),
                data,
            }
        })
        .collect()
}

/// Splits an install package like the peer does: metadata.json and the untarred code.tar.gz
/// (regular files and directories only, modes kept).
fn install_like_a_peer(package: &[u8], d: &Dirs) {
    let outer = entries(package);
    let names: Vec<_> = outer.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(names, ["metadata.json", "code.tar.gz"]);
    for e in &outer {
        assert_eq!(e.kind, tar::EntryType::Regular, "{}", e.path);
        assert_eq!(e.mode, 0o100_644, "{}", e.path);
        assert_eq!((e.uid, e.gid), (0, 0));
    }
    fs::write(d.meta.join("metadata.json"), &outer[0].data).unwrap();
    let mut code = tar::Archive::new(flate2::read::GzDecoder::new(&outer[1].data[..]));
    code.set_preserve_permissions(true);
    for e in code.entries().unwrap() {
        let mut e = e.unwrap();
        let kind = e.header().entry_type();
        assert!(kind.is_file() || kind.is_dir(), "peer refuses {kind:?}");
        let path = e.path().unwrap().into_owned();
        assert!(
            path.is_relative() && !path.components().any(|c| c.as_os_str() == ".."),
            "{}",
            path.display()
        );
        assert!(e.unpack_in(&d.src).unwrap());
    }
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert_ok(&out);
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

#[test]
fn normal_package_round_trip() {
    let binary = fs::read(fixture("fake-ercc.sh")).unwrap();
    let pkg = package::normal_package("ercc_1.0", &binary).unwrap();

    let outer = entries(&pkg);
    assert_eq!(outer.len(), 2);
    let meta: serde_json::Value = serde_json::from_slice(&outer[0].data).unwrap();
    assert_eq!(
        meta,
        serde_json::json!({"path": "", "type": "ercc-type", "label": "ercc_1.0"})
    );
    assert_eq!(outer[0].mtime, outer[1].mtime);
    let code = entries(&outer[1].data);
    assert_eq!(code.len(), 1);
    assert_eq!(code[0].path, "ercc");
    assert_eq!(code[0].kind, tar::EntryType::Regular);
    assert_eq!(code[0].mode, 0o755);
    assert_eq!(code[0].data, binary);
    assert_eq!((code[0].uid, code[0].gid), (0, 0));

    // Deterministic: same bytes, same id; and any change of content changes the id.
    assert_eq!(package::normal_package("ercc_1.0", &binary).unwrap(), pkg);
    let id = package::package_id("ercc_1.0", &pkg);
    assert_eq!(
        id,
        format!("ercc_1.0:{}", hex::encode(sha2::Sha256::digest(&pkg)))
    );
    let other = package::normal_package("ercc_1.0", b"another binary").unwrap();
    assert_ne!(package::package_id("ercc_1.0", &other), id);
    assert!(package::normal_package("_bad", &binary).is_err());
}

#[test]
fn caas_package_round_trip() {
    let mut peers = BTreeMap::new();
    let mut tls = Connection::plain("ercc.org2:9999", "10s");
    tls.tls_required = true;
    tls.root_cert = Some(fixture_text("ca.pem"));
    peers.insert("peer1.org2".to_owned(), tls.clone());
    peers.insert(
        "peer0.org1".to_owned(),
        Connection::plain("ercc.org1:9999", "10s"),
    );
    let pkg = package::caas_package("ercc_caas", &peers).unwrap();
    let outer = entries(&pkg);
    let meta: serde_json::Value = serde_json::from_slice(&outer[0].data).unwrap();
    assert_eq!(
        meta,
        serde_json::json!({"path": "", "type": "external", "label": "ercc_caas"})
    );
    let code = entries(&outer[1].data);
    let listing: Vec<_> = code
        .iter()
        .map(|e| (e.path.as_str(), e.kind, e.mode))
        .collect();
    assert_eq!(
        listing,
        [
            ("peer0.org1/", tar::EntryType::Directory, 0o755),
            ("peer0.org1/connection.json", tar::EntryType::Regular, 0o644),
            ("peer1.org2/", tar::EntryType::Directory, 0o755),
            ("peer1.org2/connection.json", tar::EntryType::Regular, 0o644),
        ]
    );
    let c1: serde_json::Value = serde_json::from_slice(&code[3].data).unwrap();
    assert_eq!(
        c1,
        serde_json::json!({
            "address": "ercc.org2:9999",
            "dial_timeout": "10s",
            "tls_required": true,
            "client_auth_required": false,
            "root_cert": fixture_text("ca.pem"),
        })
    );
    assert_eq!(package::caas_package("ercc_caas", &peers).unwrap(), pkg);

    // Refused: no peers, a bad peer id, TLS without its CA.
    assert!(package::caas_package("ercc_caas", &BTreeMap::new()).is_err());
    let mut bad = BTreeMap::new();
    bad.insert("../x".to_owned(), Connection::plain("h:1", "10s"));
    assert!(package::caas_package("ercc_caas", &bad).is_err());
    let mut no_ca = BTreeMap::new();
    tls.root_cert = None;
    no_ca.insert("p".to_owned(), tls);
    assert!(package::caas_package("ercc_caas", &no_ca).is_err());
}

/// Fabric's `ccaas_builder` build + release as Fabric's operator documentation describes them
/// (written from that description, not from Fabric's code): detect type `ccaas`; require the
/// package's top-level `connection.json`; fill `{{.field}}` in its string fields from the JSON
/// object in `CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG`, a missing field being an error; keep only
/// the fields ccaas_builder knows (the certificates only with TLS); release it to
/// `chaincode/server/connection.json`. Returns the released file or the error.
fn ccaas_builder_as_documented(d: &Dirs, config: &serde_json::Value) -> Result<PathBuf, String> {
    let meta: serde_json::Value =
        serde_json::from_slice(&fs::read(d.meta.join("metadata.json")).unwrap()).unwrap();
    if !meta["type"].as_str().unwrap().eq_ignore_ascii_case("ccaas") {
        return Err("not a ccaas package".into());
    }
    let raw = fs::read(d.src.join("connection.json")).map_err(|e| e.to_string())?;
    let conn: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| e.to_string())?;
    let fill = |field: &str| -> Result<String, String> {
        let mut text = conn[field].as_str().unwrap_or("").to_owned();
        while let Some(start) = text.find("{{") {
            let end = start + text[start..].find("}}").ok_or("unclosed action")?;
            let path = text[start + 2..end].trim_matches(|c| c == '-' || c == ' ');
            let mut value = config;
            for name in path.trim_start_matches('.').split('.') {
                value = value
                    .get(name)
                    .ok_or_else(|| format!("map has no entry for key {name:?}"))?;
            }
            let value = value
                .as_str()
                .map(str::to_owned)
                .unwrap_or(value.to_string());
            text.replace_range(start..end + 2, &value);
        }
        Ok(text)
    };
    let tls = conn["tls_required"].as_bool().unwrap_or(false);
    let mut out = serde_json::json!({
        "address": fill("address")?,
        "dial_timeout": fill("dial_timeout")?,
        "tls_required": tls,
        "client_auth_required": tls && conn["client_auth_required"].as_bool().unwrap_or(false),
        "root_cert": "", "client_key": "", "client_cert": "",
    });
    if tls {
        for f in ["root_cert", "client_key", "client_cert"] {
            out[f] = fill(f)?.into();
        }
    }
    let released = d.rel.join("chaincode/server/connection.json");
    fs::create_dir_all(released.parent().unwrap()).unwrap();
    fs::write(&released, out.to_string()).unwrap();
    Ok(released)
}

/// Checks a connection.json with the launcher's own reading of it (json.awk), which mirrors
/// what the peer accepts.
fn peer_would_accept(connection_json: &Path) -> Output {
    let lib = repo_root().join("fabric/externalBuilder/lib/json.awk");
    Command::new(stock_path().join("sh"))
        .arg("-c")
        .arg("LC_ALL=C awk -v mode=connection -f \"$0\" <\"$1\"")
        .arg(lib)
        .arg(connection_json)
        .env_clear()
        .env("PATH", stock_path())
        .output()
        .unwrap()
}

#[test]
fn ccaas_package_serves_every_peer_through_ccaas_builder_templates() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = fixture("ca.pem");
    let make = |name: &str| {
        let out = tmp.path().join(name);
        package_cli(&[
            "package",
            "caas",
            "--label",
            "ercc_1.0",
            "--out",
            out.to_str().unwrap(),
            "--address",
            "{{.peername}}_ercc:9999",
            "--tls-root-cert",
            ca.to_str().unwrap(),
        ])
        .unwrap();
        fs::read(&out).unwrap()
    };
    let pkg = make("ercc-ccaas.tar.gz");
    let outer = entries(&pkg);
    let meta: serde_json::Value = serde_json::from_slice(&outer[0].data).unwrap();
    assert_eq!(
        meta,
        serde_json::json!({"path": "", "type": "ccaas", "label": "ercc_1.0"})
    );
    let code = entries(&outer[1].data);
    assert_eq!(code.len(), 1);
    assert_eq!(
        (code[0].path.as_str(), code[0].kind, code[0].mode),
        ("connection.json", tar::EntryType::Regular, 0o644)
    );

    // One package, two peers, two addresses; the TLS material survives the rewrite.
    for peer in ["peer0org1", "peer0org2"] {
        let d = Dirs::new();
        install_like_a_peer(&pkg, &d);
        let released =
            ccaas_builder_as_documented(&d, &serde_json::json!({ "peername": peer })).unwrap();
        let conn: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&released).unwrap()).unwrap();
        assert_eq!(conn["address"], format!("{peer}_ercc:9999"));
        assert_eq!(conn["dial_timeout"], "10s");
        assert_eq!(conn["root_cert"], fixture_text("ca.pem"));
        assert_ok(&peer_would_accept(&released));
        // Neither FPC builder claims it: the peer goes on to ccaas_builder.
        assert_fails(&d.detect(&fpc_c("detect"), &[]), "is not ercc-type");
        assert_fails(&d.detect(&launcher("detect"), &[]), "is not external");
    }
    // A peer whose config lacks the field fails its install, as with missingkey=error.
    let d = Dirs::new();
    install_like_a_peer(&pkg, &d);
    let err = ccaas_builder_as_documented(&d, &serde_json::json!({"other": "x"})).unwrap_err();
    assert!(err.contains("peername"), "{err}");

    // The same flags give the same bytes (and package id) on every machine.
    assert_eq!(make("again.tar.gz"), pkg);
}

#[test]
fn ccaas_package_refuses_what_ccaas_builder_would_break() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("p.tar.gz");
    let o = out.to_str().unwrap();
    let ca = fixture("ca.pem");
    let ca = ca.to_str().unwrap();
    let key = fixture("client.key");
    let key = key.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--address", "{{.peername}_ercc:9999"], "is not closed"),
        (&["--address", "{{peername}}:9999"], "only field references"),
        (
            &["--address", "{{.peername}}"],
            "host:port once the fields are filled",
        ),
        (
            &[
                "--address",
                "h:1",
                "--tls-root-cert",
                ca,
                "--client-auth",
                "--client-cert",
                ca,
                "--client-key",
                key,
                "--domain",
                "ercc",
            ],
            "--domain cannot be used with --address",
        ),
        (
            &["--address", "h:1", "--peer", "p=h:1"],
            "cannot be used with",
        ),
        (&[], "--address"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["package", "caas", "--label", "l", "--out", o];
        args.extend_from_slice(extra);
        let err = package_cli(&args).unwrap_err();
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(!out.exists());
    }
}

/// The `ercc package ...` commands of the docs' code blocks (lines starting with it, `\`
/// continuations joined, comments dropped), split like a shell would split these simple lines.
fn documented_package_commands(doc: &str) -> Vec<Vec<String>> {
    let text = fs::read_to_string(repo_root().join(doc)).unwrap();
    let mut commands = Vec::new();
    let mut in_code = false;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        // `ercc package normal|caas ...` in a summary is a placeholder, not a command.
        if !in_code || !line.starts_with("ercc package ") || line.contains("...") {
            continue;
        }
        let mut command = String::new();
        let mut line = line;
        loop {
            let code = line.split(" #").next().unwrap().trim_end();
            match code.strip_suffix('\\') {
                Some(head) => {
                    command.push_str(head);
                    line = lines.next().unwrap();
                }
                None => {
                    command.push_str(code);
                    break;
                }
            }
        }
        let words = command
            .split_whitespace()
            .map(|w| w.trim_matches('\'').to_owned())
            .skip(1)
            .collect();
        commands.push(words);
    }
    commands
}

#[test]
fn documented_package_commands_run_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let binary = tmp.path().join("ercc-binary");
    write_exec(&binary, b"#!/bin/sh\n", 0o755);
    // The docs' file names, standing for real files of the same kind.
    let files = [
        ("ercc-tls-ca.pem", fixture("ca.pem")),
        ("target/x86_64-unknown-linux-gnu/release/ercc", binary),
    ];
    let mut ran = 0;
    for doc in ["README.md", "docs/deploy.md"] {
        for words in documented_package_commands(doc) {
            let mut args: Vec<String> = Vec::new();
            for w in &words {
                let file = files.iter().find(|(name, _)| name == w).map(|(_, p)| p);
                args.push(match (args.last().map(String::as_str), file) {
                    (Some("--out"), _) => tmp.path().join(w).to_str().unwrap().to_owned(),
                    (_, Some(path)) => path.to_str().unwrap().to_owned(),
                    _ => w.clone(),
                });
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            package_cli(&argv).unwrap_or_else(|e| panic!("{doc}: ercc {words:?}: {e}"));
            ran += 1;
        }
    }
    // README: caas (ccaas_builder), normal; deploy.md: normal, caas --address, caas --peer.
    assert_eq!(ran, 5);
}

#[test]
fn package_cli_normal_writes_the_file_and_a_stable_id() {
    let tmp = tempfile::tempdir().unwrap();
    let out1 = tmp.path().join("a.tar.gz");
    let out2 = tmp.path().join("b.tar.gz");
    let bin = fixture("fake-ercc.sh");
    for out in [&out1, &out2] {
        package_cli(&[
            "package",
            "normal",
            "--label",
            "ercc_1",
            "--out",
            out.to_str().unwrap(),
            "--binary",
            bin.to_str().unwrap(),
        ])
        .unwrap();
    }
    let bytes = fs::read(&out1).unwrap();
    assert_eq!(bytes, fs::read(&out2).unwrap(), "two runs, same bytes");
    // Independent of our code: the id is the label and sha256sum of the file.
    assert_eq!(
        package::package_id("ercc_1", &bytes),
        format!("ercc_1:{}", sha256sum(&out1))
    );
    assert!(!tmp.path().join("a.tar.gz.partial").exists());

    // GNU tar, an independent reader, sees the same layout.
    assert_eq!(
        gnu_tar_listing(&out1),
        ["-rw-r--r-- 0/0 metadata.json", "-rw-r--r-- 0/0 code.tar.gz"]
    );
    let unpacked = tmp.path().join("unpacked");
    fs::create_dir(&unpacked).unwrap();
    let out = Command::new("tar")
        .arg("-xzf")
        .arg(&out1)
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(
        gnu_tar_listing(&unpacked.join("code.tar.gz")),
        ["-rwxr-xr-x 0/0 ercc"]
    );
}

/// `tar -tv` lines reduced to "permissions owner/group name".
fn gnu_tar_listing(path: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .args(["--numeric-owner", "-tvzf"])
        .arg(path)
        .output()
        .unwrap();
    assert_ok(&out);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {}", f[0], f[1], f[f.len() - 1])
        })
        .collect()
}

#[test]
fn package_cli_refuses_bad_input_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("p.tar.gz");
    let o = out.to_str().unwrap();
    let bin = fixture("fake-ercc.sh");
    let b = bin.to_str().unwrap();
    let ca = fixture("ca.pem");
    let key = fixture("client.key");
    // `<kind> --label x --out <o>` followed by the case's own arguments.
    fn args<'a>(kind: &'a str, o: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec![kind, "--label", "x", "--out", o];
        v.extend_from_slice(rest);
        v
    }
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["normal", "--label", "bad label", "--out", o, "--binary", b],
            "invalid label",
        ),
        (
            args("normal", o, &["--binary", "/nonexistent/ercc"]),
            "/nonexistent/ercc",
        ),
        (args("normal", o, &["--binary", "/"]), "not a regular file"),
        (
            args("normal", o, &["--binary", "/dev/null"]),
            "not a regular file",
        ),
        (args("caas", o, &[]), "--peer"),
        (args("caas", o, &["--peer", "p0"]), "PEER_ID=HOST:PORT"),
        (args("caas", o, &["--peer", "p0=h"]), "invalid address"),
        (
            args("caas", o, &["--peer", "p0=h:1", "--peer", "p0=h:2"]),
            "more than once",
        ),
        (args("caas", o, &["--peer", "../p=h:1"]), "invalid peer id"),
        (
            args("caas", o, &["--peer", "p=h:1", "--dial-timeout", "10"]),
            "invalid dial timeout",
        ),
        (
            args(
                "caas",
                o,
                &["--peer", "p=h:1", "--tls-root-cert", key.to_str().unwrap()],
            ),
            "no PEM certificate",
        ),
        (
            args("caas", o, &["--peer", "p=h:1", "--client-auth"]),
            "client authentication needs",
        ),
        (
            args(
                "caas",
                o,
                &[
                    "--peer",
                    "p=h:1",
                    "--tls-root-cert",
                    ca.to_str().unwrap(),
                    "--client-auth",
                    "--client-cert",
                    ca.to_str().unwrap(),
                    "--client-key",
                    ca.to_str().unwrap(),
                ],
            ),
            "no PEM private key",
        ),
        (
            args(
                "caas",
                o,
                &["--peer", "p=h:1", "--client-cert", ca.to_str().unwrap()],
            ),
            "--client-auth",
        ),
        (
            args(
                "caas",
                o,
                &[
                    "--peer",
                    "p=h:1",
                    "--tls-root-cert",
                    ca.to_str().unwrap(),
                    "--client-auth",
                    "--client-cert",
                    ca.to_str().unwrap(),
                    "--client-key",
                    key.to_str().unwrap(),
                    "--domain",
                    "",
                ],
            ),
            "--domain must not be empty",
        ),
    ];
    for (args, needle) in cases {
        let mut full = vec!["package"];
        full.extend(&args);
        let err = package_cli(&full).expect_err(&format!("{args:?} accepted"));
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote a package");
    }
}

#[test]
fn fpc_c_builds_and_runs_a_package_from_ercc_package() {
    let binary = fs::read(fixture("fake-ercc.sh")).unwrap();
    let pkg = package::normal_package("ercc_1", &binary).unwrap();
    let d = Dirs::new();
    install_like_a_peer(&pkg, &d);
    assert_eq!(mode(&d.src.join("ercc")), 0o755);

    assert_ok(&d.detect(&fpc_c("detect"), &[]));
    // The other builder must not claim it.
    assert_eq!(d.detect(&launcher("detect"), &[]).status.code(), Some(1));
    assert_ok(&d.build(&fpc_c("build"), &[]));
    assert_ok(&d.release(&fpc_c("release")));
    assert!(!d.rel.join("chaincode/server/connection.json").exists());

    let id = package::package_id("ercc_1", &pkg);
    let json = serde_json::json!({
        "chaincode_id": id, "peer_address": "localhost:7052", "mspid": "Org1MSP",
        "client_cert": "", "client_key": "", "root_cert": "",
    });
    fs::write(d.runmeta.join("chaincode.json"), json.to_string()).unwrap();
    let out_file = d.tmp().join("record");
    let out = run(
        &fpc_c("run"),
        &[&d.bld, &d.runmeta],
        d.tmp(),
        &[
            ("FAKE_OUT", out_file.to_str().unwrap()),
            ("FAKE_STATUS", "0"),
        ],
    );
    assert_ok(&out);
    let rec = Record::read(&out_file);
    assert_eq!(rec.env("CORE_CHAINCODE_ID_NAME"), Some(id));
    assert_eq!(rec.values("ARG="), vec!["-peer.address=localhost:7052"]);
}

#[test]
fn launcher_builds_a_package_from_ercc_package() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("caas.tar.gz");
    let ca = fixture("ca.pem");
    let cert = fixture("client.pem");
    let key = fixture("client.key");
    package_cli(&[
        "package",
        "caas",
        "--label",
        "ercc_caas",
        "--out",
        out.to_str().unwrap(),
        "--peer",
        "peer0.org1.example.com=ercc.org1.example.com:9999",
        "--peer",
        "peer0.org2.example.com=[::1]:9998",
        "--dial-timeout",
        "1m30s",
        "--tls-root-cert",
        ca.to_str().unwrap(),
        "--client-auth",
        "--client-cert",
        cert.to_str().unwrap(),
        "--client-key",
        key.to_str().unwrap(),
    ])
    .unwrap();
    let pkg = fs::read(&out).unwrap();

    for (peer, address) in [
        ("peer0.org1.example.com", "ercc.org1.example.com:9999"),
        ("peer0.org2.example.com", "[::1]:9998"),
    ] {
        let d = Dirs::new();
        install_like_a_peer(&pkg, &d);
        let env = [("CORE_PEER_ID", peer)];
        assert_ok(&d.detect(&launcher("detect"), &env));
        assert_eq!(d.detect(&fpc_c("detect"), &env).status.code(), Some(1));
        assert_ok(&d.build(&launcher("build"), &env));
        assert_ok(&d.release(&launcher("release")));
        let c: serde_json::Value = serde_json::from_slice(
            &fs::read(d.rel.join("chaincode/server/connection.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            c,
            serde_json::json!({
                "address": address,
                "dial_timeout": "1m30s",
                "tls_required": true,
                "client_auth_required": true,
                "root_cert": fixture_text("ca.pem"),
                "client_cert": fixture_text("client.pem"),
                "client_key": fixture_text("client.key"),
            })
        );
    }

    // A peer that is not in the package gets a clear refusal.
    let d = Dirs::new();
    install_like_a_peer(&pkg, &d);
    assert_fails(
        &d.build(
            &launcher("build"),
            &[("CORE_PEER_ID", "peer1.org1.example.com")],
        ),
        "peers in the package: peer0.org1.example.com peer0.org2.example.com",
    );
}

// ---------------------------------------------------------------------------------------------
// BusyBox: the shell and tools of Alpine-based images (older or derived peer images).

/// A PATH holding only BusyBox applets (its awk included, no jq), like an Alpine-based image.
fn busybox_path(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let busybox = which("busybox")?;
    let bin = dir.join("busybox-bin");
    fs::create_dir(&bin).unwrap();
    for applet in STOCK_TOOLS.iter().chain(&["sh", "awk", "kill"]) {
        symlink(&busybox, bin.join(applet)).unwrap();
    }
    Some((busybox, bin))
}

#[test]
fn builders_work_under_busybox_ash() {
    let d = Dirs::new();
    let Some((busybox, bin)) = busybox_path(d.tmp()) else {
        // Not a silent pass: say why nothing ran. .ci/run installs busybox, so in CI this fails.
        assert!(
            std::env::var_os("CI").is_none(),
            "busybox is not installed (CI must install it)"
        );
        eprintln!("SKIPPED builders_work_under_busybox_ash: busybox is not installed");
        return;
    };
    let sh = |script: PathBuf, args: &[&Path], env: &[(&str, &str)]| {
        let mut cmd = Command::new(&busybox);
        cmd.arg("sh")
            .arg(script)
            .args(args)
            .env_clear()
            .env("PATH", &bin)
            .env("TMPDIR", d.tmp())
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    };

    // fpc-c: a package from `ercc package`, the fake made to run under BusyBox too.
    let fake = fs::read_to_string(fixture("fake-ercc.sh"))
        .unwrap()
        .replacen("#!/bin/sh", &format!("#!{} sh", busybox.display()), 1);
    let pkg = package::normal_package("ercc_1", fake.as_bytes()).unwrap();
    install_like_a_peer(&pkg, &d);
    for (script, args) in [
        ("detect", vec![&*d.src, &*d.meta]),
        ("build", vec![&*d.src, &*d.meta, &*d.bld]),
        ("release", vec![&*d.bld, &*d.rel]),
    ] {
        assert_ok(&sh(fpc_c(script), &args, &[]).output().unwrap());
    }
    fs::write(d.runmeta.join("chaincode.json"), chaincode_json(true)).unwrap();
    let out_file = d.tmp().join("record");
    let out_str = out_file.to_str().unwrap();
    let mut child = sh(
        fpc_c("run"),
        &[&d.bld, &d.runmeta],
        &[("FAKE_OUT", out_str), ("FAKE_MODE", "wait")],
    )
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    let mut guard = KillOnDrop(vec![child.id()]);
    wait_for(
        &PathBuf::from(format!("{out_str}.ready")),
        Duration::from_secs(20),
    );
    let rec = Record::read(&out_file);
    guard.0.push(rec.values("PID=")[0].parse().unwrap());
    assert_eq!(rec.env("CORE_PEER_TLS_ENABLED").as_deref(), Some("true"));
    assert_eq!(rec.values("MODE:CORE_TLS_CLIENT_KEY_FILE="), vec!["600"]);
    assert_eq!(rec.values("ARG="), vec!["-peer.address=127.0.0.1:7052"]);
    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "run did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(7));

    // fpc-external-launcher, per-peer layout and a refusal.
    let c = conn("ercc:9999").to_string();
    let l = launcher_dirs(&[("peer0", &c)]);
    let env = [("CORE_PEER_ID", "peer0")];
    assert_ok(
        &sh(launcher("detect"), &[&l.src, &l.meta], &env)
            .output()
            .unwrap(),
    );
    assert_ok(
        &sh(launcher("build"), &[&l.src, &l.meta, &l.bld], &env)
            .output()
            .unwrap(),
    );
    assert_ok(
        &sh(launcher("release"), &[&l.bld, &l.rel], &[])
            .output()
            .unwrap(),
    );
    assert_eq!(
        fs::read_to_string(l.rel.join("chaincode/server/connection.json")).unwrap(),
        c
    );
    let out = sh(
        launcher("build"),
        &[&l.src, &l.meta, &l.bld],
        &[("CORE_PEER_ID", "peer7")],
    )
    .output()
    .unwrap();
    assert_fails(&out, "peers in the package: peer0");
}

#[test]
fn fpc_c_run_tls_paths_are_absolute_with_a_relative_tmpdir() {
    let d = run_dirs(&chaincode_json(true));
    fs::create_dir(d.tmp().join("rel-tmp")).unwrap();
    let out_file = d.tmp().join("record");
    let out = command(
        &fpc_c("run"),
        &[&d.bld, &d.runmeta],
        d.tmp(),
        &[
            ("FAKE_OUT", out_file.to_str().unwrap()),
            ("FAKE_STATUS", "0"),
        ],
    )
    .env("TMPDIR", "rel-tmp")
    .current_dir(d.tmp())
    .output()
    .unwrap();
    assert_ok(&out);
    let rec = Record::read(&out_file);
    let key = PathBuf::from(rec.env("CORE_TLS_CLIENT_KEY_FILE").unwrap());
    assert!(key.is_absolute(), "{}", key.display());
    // The fake, started in the build directory, could read it.
    assert_eq!(rec.values("MODE:CORE_TLS_CLIENT_KEY_FILE="), vec!["600"]);
}
