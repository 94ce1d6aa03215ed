#!/usr/bin/env bash
# Builds the CaaS server image from the repository's Containerfile and starts it: a static ercc,
# FROM scratch, nothing pulled from any registry, built without the operator tools (the
# `tools` feature). Checks that the container serves (a TCP
# connection to its port is accepted and it logs that it listens) and that it refuses to start
# without a package id, with the registry's own message. Not part of CI (it needs a container
# engine that can run here); run it by hand:
#
#   scripts/container-check.sh
#
#   ENGINE        podman (default) or docker
#   ENGINE_FLAGS  global flags for the engine. On a machine that is itself a container (no
#                 overlay, cgroup v1, tight rlimits) podman needs e.g.
#                 "--storage-driver vfs --runtime runc --cgroup-manager cgroupfs"
#   RUN_FLAGS     extra `run` flags, e.g. "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
#   BUILD_FLAGS   extra `build` flags, e.g. "--isolation chroot"
#   PORT          host port to serve on (default 19999; the container uses the host's network)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
ENGINE=${ENGINE:-podman}
read -r -a engine <<<"$ENGINE ${ENGINE_FLAGS:-}"
read -r -a run_flags <<<"${RUN_FLAGS:-}"
read -r -a build_flags <<<"${BUILD_FLAGS:-}"
PORT=${PORT:-19999}
image=localhost/ercc-caas:check
target=x86_64-unknown-linux-gnu
binary=target/$target/release/ercc

fail() { printf 'container check FAILED: %s\n' "$*" >&2; exit 1; }
command -v "$ENGINE" >/dev/null || fail "$ENGINE is not installed"

echo "== static chaincode-only ercc ($binary)"
(cd "$repo" && RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release -p ercc --no-default-features --target "$target")
file "$repo/$binary" 2>/dev/null | grep -q "statically linked\|static-pie" ||
    ldd "$repo/$binary" 2>&1 | grep -q "not a dynamic executable\|statically linked" ||
    fail "$binary is not statically linked"

echo "== build $image"
(cd "$repo" && "${engine[@]}" build "${build_flags[@]}" -f Containerfile \
    --build-arg ERCC_BINARY="$binary" -t "$image" .)

name=ercc-caas-check-$$
cleanup() { "${engine[@]}" rm -f "$name" >/dev/null 2>&1 || :; }
trap cleanup EXIT

echo "== refuses to start without a package id"
if out=$("${engine[@]}" run --rm "${run_flags[@]}" --network host "$image" 2>&1); then
    fail "the server started without CHAINCODE_ID: $out"
fi
case $out in
    *CHAINCODE_PKG_ID*CHAINCODE_SERVER_ADDRESS*) echo "refused: $out" ;;
    *) fail "unexpected refusal: $out" ;;
esac

echo "== holds no operator tools"
if out=$("${engine[@]}" run --rm "${run_flags[@]}" --network host "$image" inspect 2>&1); then
    fail "the image ran 'ercc inspect': $out"
fi
case $out in
    *"built without the \`tools\` feature"*) echo "refused: $out" ;;
    *) fail "unexpected answer to 'ercc inspect': $out" ;;
esac

echo "== serves on 127.0.0.1:$PORT"
"${engine[@]}" run -d --name "$name" "${run_flags[@]}" --network host \
    -e CHAINCODE_ID=ercc_caas_1:check -e CHAINCODE_SERVER_ADDRESS="127.0.0.1:$PORT" \
    -e FABRIC_LOGGING_SPEC=INFO "$image" >/dev/null
for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        logs=$("${engine[@]}" logs "$name" 2>&1)
        printf '%s\n' "$logs" | tail -n 5
        "${engine[@]}" stop -t 5 "$name" >/dev/null
        status=$("${engine[@]}" inspect -f '{{.State.ExitCode}}' "$name")
        echo "stopped with SIGTERM, exit status $status"
        [ "$status" = 0 ] || fail "the server did not stop cleanly on SIGTERM (exit $status)"
        echo "container check passed"
        exit 0
    fi
    sleep 0.2
done
"${engine[@]}" logs "$name" >&2 || :
fail "nothing accepted connections on 127.0.0.1:$PORT"
