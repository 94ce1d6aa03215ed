//! `devpeer up` against the agreed `ercc package normal --label L --out F --binary B` CLI,
//! with a stand-in `ercc` that packages the Node fixture (the real registry is wired in by the
//! integrator's tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};

use common::*;

const MRENCLAVE: &str = "8a4f0c8d2f3e1b6a7c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d";

fn fake_ercc(dir: &std::path::Path) -> std::path::PathBuf {
    let node = node_fixture();
    let script = format!(
        r#"#!/bin/sh
# Stand-in for `ercc package normal --label L --out F --binary B`.
set -e
[ "$1" = package ] && [ "$2" = normal ] || {{ echo "unexpected args: $*" >&2; exit 2; }}
shift 2
while [ $# -gt 0 ]; do
  case "$1" in
    --label) LABEL="$2"; shift 2;;
    --out) OUT="$2"; shift 2;;
    --binary) shift 2;;
    *) echo "unknown flag $1" >&2; exit 2;;
  esac
done
W=$(mktemp -d)
# Deterministic archives, so the same inputs give the same package id.
T="--mtime=@0 --owner=0 --group=0 --numeric-owner --sort=name"
tar $T -C "{node}" -cf - index.js package.json | gzip -n > "$W/code.tar.gz"
printf '{{"type":"node","label":"%s","path":""}}' "$LABEL" > "$W/metadata.json"
tar $T -C "$W" -cf - metadata.json code.tar.gz | gzip -n > "$OUT"
rm -rf "$W"
echo "$LABEL:$(sha256sum "$OUT" | cut -d' ' -f1)"
"#,
        node = node.display()
    );
    let path = dir.join("ercc");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn up(home: &std::path::Path, ercc: &std::path::Path) -> KillOnDrop {
    up_with(home, ercc, &[]).0
}

/// `devpeer up` with extra flags; returns the peer and the lines it printed after the first.
fn up_with(
    home: &std::path::Path,
    ercc: &std::path::Path,
    extra: &[&str],
) -> (KillOnDrop, Vec<String>) {
    let b = fixtures().join("builders");
    let mut child = Command::new(devpeer_bin())
        .arg("--home")
        .arg(home)
        .arg("up")
        .arg("--ercc")
        .arg(ercc)
        .arg("--fpc-builder")
        .arg(b.join("node"))
        .args(["--builder", &format!("node={}", b.join("node").display())])
        .args([
            "--propagate",
            "NODE_FIXTURE_MODULES",
            "--chaincode-listen",
            "127.0.0.1:0",
        ])
        .args(["--version", MRENCLAVE])
        .args(extra)
        .env("NODE_FIXTURE_MODULES", node_fixture().join("node_modules"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rest = read_up_banner(&mut child);
    assert!(rest.iter().any(|l| l.contains("query ercc")), "{rest:?}");
    (KillOnDrop(child), rest)
}

#[test]
fn up_packages_installs_defines_and_runs_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let ercc = fake_ercc(dir.path());
    {
        let _peer = up(&home, &ercc);
        cli_in(
            &home,
            &["invoke", "ercc", "-c", r#"{"Args":["Put","k","v"]}"#],
        )
        .ok();
        let status: serde_json::Value =
            serde_json::from_str(&cli_in(&home, &["status"]).ok()).unwrap();
        assert_eq!(status["definitions"]["ercc"]["version"], MRENCLAVE);
        assert_eq!(status["definitions"]["ercc"]["sequence"], 1);
        cli_in(&home, &["stop"]).ok();
    }
    // Up again on the same home: same package, same definition, state still there.
    let _peer = up(&home, &ercc);
    assert_eq!(
        cli_in(&home, &["query", "ercc", "-c", r#"{"Args":["Get","k"]}"#]).ok(),
        "v"
    );
    let status: serde_json::Value = serde_json::from_str(&cli_in(&home, &["status"]).ok()).unwrap();
    assert_eq!(status["definitions"]["ercc"]["sequence"], 1);
    cli_in(&home, &["stop"]).ok();
}

#[test]
fn up_refuses_a_bad_version_and_a_missing_ercc() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli_in(
        dir.path(),
        &["up", "--version", "nothex", "--ercc", "/nonexistent/ercc"],
    );
    assert!(out.err().contains("64 hex"), "{}", out.stderr);
    let out = cli_in(dir.path(), &["up", "--ercc", "/nonexistent/ercc"]);
    assert!(
        out.err().contains("ercc binary not found"),
        "{}",
        out.stderr
    );
}

#[test]
fn define_without_a_package_commits_the_definition_only() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let ercc = fake_ercc(dir.path());
    let _peer = up(&home, &ercc);
    let other = "11".repeat(32);
    let out = cli_in(
        &home,
        &["define", "mycc", "--version", &other, "--sequence", "1"],
    );
    assert!(
        out.stderr.contains("package none (definition only)"),
        "{}",
        out.stderr
    );
    out.ok();
    let status: serde_json::Value = serde_json::from_str(&cli_in(&home, &["status"]).ok()).unwrap();
    assert_eq!(status["definitions"]["mycc"]["version"], other.as_str());
    assert_eq!(status["definitions"]["mycc"]["package_id"], "");
    // Nothing to run: Fabric's answer for a defined, uninstalled chaincode.
    let err = cli_in(&home, &["query", "mycc", "-c", r#"{"Args":["Get","k"]}"#]).err();
    assert!(
        err.contains("chaincode definition for 'mycc' exists, but chaincode is not installed"),
        "{err}"
    );
    cli_in(&home, &["stop"]).ok();
}

#[test]
fn dev_accept_simulated_is_named_in_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let ercc = fake_ercc(dir.path());
    let (_peer, lines) = up_with(&home, &ercc, &["--dev-accept-simulated"]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("--dev-accept-simulated") && l.contains("development only")),
        "{lines:?}"
    );
    cli_in(&home, &["stop"]).ok();
}
