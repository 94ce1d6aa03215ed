#!/usr/bin/env python3
"""Writes crates/ercc/hot-code.ld: the list of the code the registry runs, which the release link
of `ercc` places together at the start of its text (crates/ercc/build.rs).

Why: the kernel maps a binary's code into a process in blocks of page-cache folios (64 KiB to
512 KiB here), not page by page, so code that runs scattered among code that never runs keeps
almost all of the 5 MB text resident. Linking the code that runs into one range keeps the rest
unmapped: about 1.3 MiB less RSS for the deployed chaincode (README, "Benchmarks").

How: it builds the deployed binary (static, chaincode only, for the host's triple) with a link
map, runs the registry's hot-path benchmark (both modes, TLS, a registration, every query
workload; against a Fabric 2.5 and a Fabric 3.1 peer) and a plain CaaS start under
`valgrind --tool=callgrind`, maps every executed instruction to the input section it lies in,
and writes one pattern per section. Rust symbol hashes and crate disambiguators are wildcards,
so the list keeps matching across rebuilds and small changes; a function it does not list is
linked with the rest of the code (it costs memory, never correctness). Regenerate it when the
hot path changes; `--check` only reports how much of what runs the current list covers, and the
largest sections it misses. Profiles are kept in target/hot-code/profiles.

Needs: valgrind, setsid (util-linux), binutils (nm, readelf), Node-free `hot_path`, Python 3.
Usage: scripts/hot-code.py [--check]
"""

import bisect
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "ercc", "hot-code.ld")

def host_triple():
    """The triple rustc builds for by default (`host:` of `rustc -vV`)."""
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(line[6:] for line in out.splitlines() if line.startswith("host: "))


TARGET = host_triple()
TARGET_DIR = os.path.join(ROOT, "target", "hot-code")
BINARY = os.path.join(TARGET_DIR, TARGET, "release", "ercc")
MAP = os.path.join(TARGET_DIR, "ercc.map")
CALLGRIND = [
    "valgrind", "--tool=callgrind", "--demangle=no", "--dump-instr=yes", "--dump-line=no",
    "--compress-pos=no", "--compress-strings=no",
]
# Input sections the linker names after their function: `.text.NAME` or `.text.KIND.NAME`.
KINDS = ("unlikely.", "hot.", "startup.", "exit.", "split.")


def build():
    """The deployed build (docs/deploy.md), with a link map, in its own target directory."""
    env = dict(os.environ)
    env["RUSTFLAGS"] = f"-C target-feature=+crt-static -C link-arg=-Wl,-Map={MAP}"
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-p", "ercc", "--no-default-features",
         "--target", TARGET, "--target-dir", TARGET_DIR],
        cwd=ROOT, env=env, check=True)


def profile(out_dir):
    """Runs the workloads under callgrind; returns the profile files."""
    pids = os.path.join(out_dir, "pids")
    wrapper = os.path.join(out_dir, "ercc")
    # The benchmark and the dev peer kill the process (group) they started; valgrind runs in a
    # session of its own so that it survives that and is stopped with SIGTERM below, which
    # makes it write its profile.
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n")
        f.write("setsid " + " ".join(CALLGRIND)
                + f" --callgrind-out-file={out_dir}/cg.%p {BINARY} \"$@\" &\n")
        f.write(f"echo $! >> {pids}\nwait\n")
    os.chmod(wrapper, 0o755)
    # A Fabric 2.5 peer, then one that announces Fabric 3.1's write batches and multi-key reads.
    for fabric31 in ("", "1"):
        env = dict(os.environ, BENCH_ERCC_BIN=wrapper, BENCH_SKIP_NODE="1", BENCH_SECS="1",
                   BENCH_MODES="normal,caas", BENCH_FABRIC31=fabric31)
        subprocess.run(["cargo", "bench", "--locked", "-p", "devpeer", "--bench", "hot_path"],
                       cwd=ROOT, env=env, check=True)
    # A CaaS start with the defaults and no TLS, idle: the start-up path the benchmark's TLS
    # set-up does not take.
    env = dict(os.environ, CHAINCODE_PKG_ID="ercc:1", CHAINCODE_SERVER_ADDRESS="127.0.0.1:19999",
               CHAINCODE_TLS_DISABLED="true")
    idle = subprocess.Popen(CALLGRIND + [f"--callgrind-out-file={out_dir}/cg.%p", BINARY],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(10)
    idle.send_signal(signal.SIGTERM)
    idle.wait(timeout=60)
    # The benchmark's orphans.
    orphans = [int(line) for line in open(pids)] if os.path.exists(pids) else []
    for pid in orphans:
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 60
    while time.time() < deadline and any(alive(pid) for pid in orphans):
        time.sleep(0.5)
    files = [os.path.join(out_dir, n) for n in sorted(os.listdir(out_dir)) if n.startswith("cg.")]
    for path in files:
        print(f"hot-code: profile {os.path.basename(path)}: {os.path.getsize(path)} bytes")
    return files


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def symbols():
    """Address of every function symbol of the binary, by name."""
    out = subprocess.run(["nm", "--defined-only", BINARY], capture_output=True, text=True,
                         check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            table.setdefault(parts[2], int(parts[0], 16))
    return table


def executed(files, table):
    """Link-time addresses of the binary's executed instructions, over all profiles."""
    addresses = set()
    for path in files:
        # Callgrind names the object of some code `???`; the binary is static, so every address
        # is its own.
        per_fn = {}
        fn = None
        for line in open(path, errors="replace"):
            if line.startswith("fn="):
                fn = line[3:].strip()
            elif line.startswith("0x"):
                per_fn.setdefault(fn, []).append(int(line.split()[0], 16))
        # Callgrind reports most code at valgrind's load address and some at the link address:
        # a function with a symbol gives its own base, the others take the most common one.
        bases = {n: (min(a) - table[n]) & ~0xFFF for n, a in per_fn.items() if n in table}
        if not bases:
            continue
        counts = {}
        for base in bases.values():
            counts[base] = counts.get(base, 0) + 1
        common = max(counts, key=counts.get)
        for name, addrs in per_fn.items():
            base = bases.get(name, common)
            addresses.update(a - base for a in addrs)
    return addresses


def input_sections():
    """(start, size, file, section) of every executable input section, from the link map."""
    # lld's map: VMA LMA Size Align, then `file:(section)` for an input section.
    line_re = re.compile(
        r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+(\S.*):\((\.text[^)]*)\)$")
    sections = []
    for line in open(MAP, errors="replace"):
        m = line_re.match(line.rstrip("\n"))
        if m and int(m.group(2), 16) > 0:
            sections.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(4)))
    sections.sort()
    return sections


def function_of(section, table):
    """The function a `.text.[KIND.]NAME` section is named after, or None for a plain section
    (such as the C library's `.text` or `.text.avx2`)."""
    name = section[len(".text."):] if section.startswith(".text.") else ""
    for kind in KINDS:
        if name.startswith(kind):
            name = name[len(kind):]
    return name if name.startswith(("_ZN", "_R")) or name in table else None


def pattern(file, section, table):
    """A linker-script input pattern for one section, stable across rebuilds."""
    name = function_of(section, table)
    if name is not None and name.startswith(("_ZN", "_R")):
        name = re.sub(r"\.llvm\.\d+$", "", name)
        name = re.sub(r"17h[0-9a-f]{16}E$", "17h*", name)  # legacy mangling: the hash
        name = re.sub(r"Cs[0-9A-Za-z]+_(?=\d)", "Cs*_", name)  # v0 mangling: crate disambiguators
        return f"*(.text.*{name}{'' if name.endswith('*') else '*'})"
    if name is not None:
        return f"*(.text.*{name})"
    # A plain section (assembly, the C library): named by its object.
    m = re.match(r"^(.*)\((.*)\)$", file)
    if m:
        archive = os.path.basename(m.group(1))
        member = re.sub(r"^[0-9a-f]{16}-", "*", m.group(2))  # cc-rs prefixes a hash
        return f"*{archive}:{member}({section})"
    return f"*{os.path.basename(file)}({section})"


def hot_range():
    """[start, end) of the `.text.hot` output section of the measured binary, if it has one."""
    out = subprocess.run(["readelf", "-SW", BINARY], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"\.text\.hot\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", out)
    return (int(m.group(1), 16), int(m.group(1), 16) + int(m.group(2), 16)) if m else (0, 0)


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] not in ([], ["--check"]):
        sys.exit(__doc__)
    if shutil.which("valgrind") is None:
        sys.exit("hot-code: valgrind is needed")
    build()
    table = symbols()
    # Kept after the run, for callgrind_annotate.
    profiles = os.path.join(TARGET_DIR, "profiles")
    shutil.rmtree(profiles, ignore_errors=True)
    os.makedirs(profiles)
    addresses = executed(profile(profiles), table)
    if not addresses:
        sys.exit("hot-code: no profile of the binary was written")
    sections = input_sections()
    if not sections:
        sys.exit(f"hot-code: no input sections in {MAP} (it reads the map of lld, the default)")
    starts = [s[0] for s in sections]
    ran = {}
    for addr in addresses:
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < sections[i][0] + sections[i][1]:
            ran[sections[i][0]] = sections[i]
    lo, hi = hot_range()
    total = sum(s[1] for s in ran.values())
    covered = sum(s[1] for s in ran.values() if lo <= s[0] < hi)
    print(f"hot-code: {len(ran)} sections ran, {total / 1024:.0f} KiB; "
          f"{covered / max(total, 1):.1%} of it in the current build's hot section "
          f"({(hi - lo) / 1024:.0f} KiB)")
    if check:
        missed = sorted((s for s in ran.values() if not lo <= s[0] < hi), key=lambda s: -s[1])
        for _, size, file, section in missed[:15]:
            print(f"  not in it: {size:6d} {os.path.basename(file)}:({section})")
        return
    patterns = sorted({pattern(f, s, table) for _, _, f, s in ran.values()},
                      key=lambda p: (not p.startswith("*(."), p))
    with open(OUT, "w") as f:
        f.write("/* The code the registry runs, linked together at the start of the text of a\n"
                " * release `ercc` (crates/ercc/build.rs). Generated by scripts/hot-code.py from\n"
                " * callgrind profiles of the hot-path benchmark: do not edit by hand. */\n")
        f.write("SECTIONS\n{\n  .text.hot : {\n")
        for p in patterns:
            f.write(f"    {p}\n")
        f.write("  }\n}\nINSERT BEFORE .text;\n")
    print(f"hot-code: wrote {len(patterns)} patterns to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
