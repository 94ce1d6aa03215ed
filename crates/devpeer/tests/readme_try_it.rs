//! The README's "Try it" walk-through, run as written: its first code block (after the cargo
//! build) starts `devpeer up --dev-accept-simulated`, its second is run by `sh -e` line for
//! line, with `target/release/` standing for the binaries under test, a private HOME and
//! working directory, and the chaincode listener on a free port (the only flag added). Then the
//! same registration without the dev switch must be refused.
//!
//! Needs the `ercc` binary built next to `devpeer` (`cargo test --workspace` does that).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod ercc_common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{devpeer_bin, read_up_banner, KillOnDrop};
use ercc_common::{ercc_bin, repo_root};

/// The code blocks of the README's "Try it" section.
fn try_it_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("## Try it")
        .expect("README has a Try it section");
    let section = &readme[start..];
    // The walk-through ends where the section turns to running the tests.
    let section = &section[..section.find("**Run every check").unwrap_or(section.len())];
    section
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| b.strip_prefix("sh\n").expect("sh code block").to_owned())
        .collect()
}

/// A block's text with `target/release/` replaced by the folder of the binaries under test.
fn with_binaries(block: &str) -> String {
    let bin = devpeer_bin();
    let dir = bin.parent().unwrap();
    assert_eq!(ercc_bin().parent().unwrap(), dir);
    block.replace("target/release/", &format!("{}/", dir.display()))
}

/// Starts the up command in `cwd` with HOME there; returns once it says it is up, with the
/// banner's lines after the first.
fn up(cwd: &Path, command: &str) -> (KillOnDrop, Vec<String>) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {command} --chaincode-listen 127.0.0.1:0"))
        .current_dir(cwd)
        .env("HOME", cwd)
        .env_remove("DEVPEER_HOME")
        .env_remove("ERCC_ACCEPTED_EVIDENCE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rest = read_up_banner(&mut child);
    (KillOnDrop(child), rest)
}

fn sh(cwd: &Path, script: &str) -> std::process::Output {
    Command::new("sh")
        .arg("-e")
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .env("HOME", cwd)
        .env_remove("DEVPEER_HOME")
        .output()
        .unwrap()
}

#[test]
fn readme_try_it_registers_an_enclave() {
    let blocks = try_it_blocks();
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    let up_command = blocks[0]
        .trim()
        .split_once("&& ")
        .expect("cargo build && devpeer up")
        .1;
    assert!(up_command.contains("--dev-accept-simulated"));
    let dir = tempfile::tempdir().unwrap();

    let (_peer, lines) = up(dir.path(), &with_binaries(up_command));
    assert!(
        lines.iter().any(|l| l.contains("--dev-accept-simulated")),
        "{lines:?}"
    );
    let out = sh(dir.path(), &with_binaries(&blocks[1]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    // init prints the enclave id; the registry lists it as provisioned, with its endpoint.
    let enclave_id = stdout.lines().next().unwrap().trim().to_owned();
    assert_eq!(enclave_id.len(), 64, "{stdout}");
    assert!(stdout.contains("peer0.org1.example.com:7051"), "{stdout}");
    assert!(stdout.contains(&format!("[\"{enclave_id}\"]")), "{stdout}");
    assert!(
        stderr.contains("package none (definition only)"),
        "{stderr}"
    );
    drop(_peer);

    // Without the switch (same state, same enclave): refused for its simulated evidence.
    let plain = up_command.replace(" --dev-accept-simulated", "");
    let (_peer, _) = up(dir.path(), &with_binaries(&plain));
    let register = blocks[1]
        .lines()
        .filter(|l| {
            l.starts_with("MR=") || l.starts_with("CREDS=") || l.contains("registerEnclave")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let out = sh(dir.path(), &with_binaries(&register));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "registered without the dev switch");
    assert!(stderr.contains("simulated"), "{stderr}");
    sh(dir.path(), &with_binaries("target/release/devpeer stop"));
}
