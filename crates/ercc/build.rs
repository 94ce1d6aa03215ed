//! Links the code the registry runs together at the start of the text of a release `ercc`, by
//! the linker script `hot-code.ld` (written by `scripts/hot-code.py` from profiles of the
//! hot-path benchmark). The kernel maps a binary's code into a process in blocks of whole
//! page-cache folios, so hot code scattered among cold code keeps nearly all of the text
//! resident; grouped, the rest stays unmapped (about 1.3 MiB less RSS, README "Benchmarks").
//! The script only orders sections (`INSERT BEFORE .text`), with GNU ld and lld alike; a
//! function it does not name is linked with the rest. `ERCC_HOT_CODE=off` links without it
//! (for a linker that takes no linker scripts, such as mold).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=hot-code.ld");
    println!("cargo:rerun-if-env-changed=ERCC_HOT_CODE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let off = std::env::var("ERCC_HOT_CODE").is_ok_and(|v| v == "off");
    if !(linux && release) || off {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let script = Path::new(&dir).join("hot-code.ld");
    // `-T FILE` as two arguments: a path may hold the comma that `-Wl,` splits on.
    println!("cargo:rustc-link-arg-bin=ercc=-T");
    println!("cargo:rustc-link-arg-bin=ercc={}", script.display());
}
