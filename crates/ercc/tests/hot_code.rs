//! `hot-code.ld`, the linker script a release `ercc` links with (build.rs): it links with the
//! toolchain's default linker, a function it names lands in `.text.hot` ahead of the rest of the
//! text, a function it does not name stays out of it, and the program still runs. CI builds no
//! release `ercc`, so without this a script the linker refuses would first fail an operator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/hot-code.ld");

/// A program whose crate is named `ercc`, so that its `main` is `ercc::main`, which the script
/// names, beside a function it does not name.
const PROGRAM: &str = r#"
#[inline(never)]
fn not_listed_anywhere() -> u32 { std::hint::black_box(41) + 1 }
fn main() { println!("{}", not_listed_anywhere()); }
"#;

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name} (binutils): {e}"));
    assert!(out.status.success(), "{name} {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Address of the first symbol whose name contains `part`.
fn symbol(nm: &str, part: &str) -> u64 {
    let line = nm
        .lines()
        .find(|l| l.contains(part))
        .unwrap_or_else(|| panic!("no symbol {part}"));
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

/// `[start, end)` of a section, from `readelf -SW`.
fn section(readelf: &str, name: &str) -> (u64, u64) {
    let line = readelf
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == name))
        .unwrap_or_else(|| panic!("no section {name} in:\n{readelf}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    let at = fields.iter().position(|w| *w == name).unwrap();
    // name, type, address, offset, size
    let addr = u64::from_str_radix(fields[at + 2], 16).unwrap();
    let size = u64::from_str_radix(fields[at + 4], 16).unwrap();
    (addr, addr + size)
}

fn link(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let src = dir.join("main.rs");
    std::fs::write(&src, PROGRAM).unwrap();
    let exe = dir.join("ercc");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = Command::new(rustc)
        .args(["--edition", "2021", "--crate-name", "ercc", "-O"])
        .args(["-C", "link-arg=-T", "-C"])
        .arg(format!("link-arg={SCRIPT}"))
        .args(extra)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("run rustc");
    assert!(status.success(), "linking with {SCRIPT} failed");
    exe
}

fn check(exe: &Path) {
    let run = Command::new(exe).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "42\n", "{run:?}");
    let exe = exe.to_str().unwrap();
    let nm = tool("nm", &[exe]);
    let sections = tool("readelf", &["-SW", exe]);
    let (hot_start, hot_end) = section(&sections, ".text.hot");
    let (text_start, _) = section(&sections, ".text");
    let main = symbol(&nm, "_ZN4ercc4main17h");
    let other = symbol(&nm, "not_listed_anywhere");
    assert!(
        (hot_start..hot_end).contains(&main),
        "ercc::main at {main:#x} is not in .text.hot"
    );
    assert!(
        other >= text_start,
        "an unlisted function at {other:#x} is in .text.hot"
    );
    assert!(hot_end <= text_start, ".text.hot must come before .text");
}

#[test]
#[cfg(target_os = "linux")]
fn the_hot_code_script_links_and_orders_the_text() {
    let dir = tempfile::tempdir().unwrap();
    check(&link(dir.path(), &[]));
}

#[test]
#[cfg(target_os = "linux")]
fn the_hot_code_script_links_a_static_binary_as_deployed() {
    let dir = tempfile::tempdir().unwrap();
    check(&link(dir.path(), &["-C", "target-feature=+crt-static"]));
}

#[test]
fn every_pattern_names_files_by_their_base_name_only() {
    let script = std::fs::read_to_string(SCRIPT).unwrap();
    // Pattern lines start with `*`; the comment's lines with `* ` or `*/`.
    let patterns: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('*') && !l.starts_with("* ") && !l.starts_with("*/"))
        .collect();
    assert!(patterns.len() > 100, "{} patterns", patterns.len());
    for p in patterns {
        assert!(!p.contains('/'), "a path of the machine that wrote it: {p}");
    }
    assert!(script.contains("INSERT BEFORE .text;"));
}
