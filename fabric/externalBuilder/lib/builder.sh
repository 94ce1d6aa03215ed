# Shared by the fpc-c and fpc-external-launcher scripts, which source it after setting `me` (the
# builder and step, for messages) and `lib` (this folder). POSIX sh: runs under dash (the shell of
# the stock Ubuntu-based fabric-peer image), bash and BusyBox ash. Reads JSON with json.awk, so
# it needs awk (mawk, gawk or BusyBox awk: part of every Debian, Ubuntu and Alpine base) and no jq.

die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }

command -v awk >/dev/null 2>&1 ||
    die "awk is required but not on PATH (mawk, gawk or BusyBox awk; the stock fabric-peer image has mawk)"

# json MODE FILE [KEY]: runs json.awk in MODE on FILE. Prints what the mode prints, or the reason
# it refuses the file (and returns 1). NUL bytes are refused here because awks differ on them
# (mawk keeps them, BusyBox awk cuts the line), and JSON never needs one unescaped.
json() {
    if ! tr -d '\000' <"$2" | cmp -s - "$2"; then
        echo "not valid JSON: it contains a NUL byte"
        return 1
    fi
    LC_ALL=C awk -v mode="$1" -v key="${3:-}" -f "$lib/json.awk" <"$2"
}

# package_type METADATA_FILE: prints the package type in ASCII lower case, or dies saying why the
# file is malformed. Call it as `type=$(package_type FILE) || exit 1`.
package_type() {
    _type=$(json type "$1") || die "malformed $1: $_type"
    printf '%s\n' "$_type"
}
