# JSON reading for the external builders, in POSIX awk (mawk, gawk, BusyBox awk), so that the
# builders run on the stock fabric-peer image (Ubuntu: dash and mawk, no jq).
# Run with LC_ALL=C (characters are bytes) and the file on stdin; builder.sh does both.
#
#   -v mode=type         metadata.json: prints its "type" in ASCII lower case
#   -v mode=chaincode    chaincode.json (what the peer hands to run): checks the launch fields
#   -v mode=connection   connection.json (CaaS): checks it the way the peer will read it
#   -v mode=get -v key=K prints the string field K of the top-level object, decoded, as is
#
# On refusal it prints the reason (one line, on stdout) and exits 1; the caller adds the file name.
# The whole file is validated as JSON (RFC 8259) whatever the mode: one value, nothing after it.
# Only the top-level object's members are kept: T[k] is the type of member k ("string",
# "number", "boolean", "null", "object", "array"), S[k] a string's decoded bytes, V[k] the text of
# a number or boolean.

BEGIN {
    MAX_BYTES = 131072   # far above any real file (a few KiB); bounds memory and time on a hostile one
    MAX_DEPTH = 512
    text = ""; size = 0; failed = 0
    CTRL = ""
    for (i = 1; i < 32; i++) CTRL = CTRL sprintf("%c", i)
    HEX = "0123456789abcdef"
}

{
    size += length($0) + 1
    if (size > MAX_BYTES) { refuse("larger than " MAX_BYTES " bytes"); exit 1 }
    text = text $0 "\n"
}

END {
    if (failed) exit 1
    if (!parse()) exit 1
    if (mode == "type") metadata_type()
    else if (mode == "chaincode") check_chaincode()
    else if (mode == "connection") check_connection()
    else if (mode == "get") { if (T[key] == "string") printf "%s", S[key]; else refuse("\"" key "\" is not a string") }
    else refuse("json.awk: unknown mode \"" mode "\"")
    exit failed
}

function refuse(msg) { if (!failed) print msg; failed = 1; return 0 }

# --- the parser: iterative, with the open containers in `stack` ---------------------------------

function parse(    c, expect, stack, top, member, t, outer, keep, s) {
    pos = 1; n = length(text); stack = ""; expect = "value"; member = ""
    skip_ws()
    if (pos > n) return refuse("must hold exactly one JSON value, found none")
    while (1) {
        skip_ws()
        if (expect == "after" && stack == "") break
        if (pos > n) return refuse("ends in the middle of a value")
        c = substr(text, pos, 1)
        top = substr(stack, length(stack), 1)
        if (expect == "key") {
            if (c != "\"") return refuse(syntax("expected a member name in quotes"))
            member = read_string(length(stack) == 1)
            if (failed) return 0
            skip_ws()
            if (substr(text, pos, 1) != ":") return refuse(syntax("expected ':' after a member name"))
            pos++; expect = "value"
        } else if (expect == "after") {
            if (c == ",") { pos++; expect = (top == "{") ? "key" : "value" }
            else if ((c == "}" && top == "{") || (c == "]" && top == "[")) {
                pos++; stack = substr(stack, 1, length(stack) - 1)
            } else return refuse(syntax("expected ',' or '" (top == "{" ? "}" : "]") "'"))
        } else {
            # A value; `keep` says whether it is a member of the top-level object.
            outer = stack; keep = (outer == "{")
            if (c == "{" || c == "[") {
                t = (c == "{") ? "object" : "array"
                if (length(stack) >= MAX_DEPTH) return refuse("nested deeper than " MAX_DEPTH " levels")
                stack = stack c; pos++; skip_ws()
                if (substr(text, pos, 1) == (c == "{" ? "}" : "]")) {
                    pos++; stack = substr(stack, 1, length(stack) - 1); expect = "after"
                } else expect = (c == "{") ? "key" : "value"
            } else if (c == "\"") {
                t = "string"; s = read_string(keep)
                if (failed) return 0
                if (keep) S[member] = s
                expect = "after"
            } else if (!read_scalar()) return 0
            else { t = scalar_type; if (keep) V[member] = scalar_text; expect = "after" }
            if (keep) T[member] = t
            if (outer == "") TOP = t
        }
    }
    skip_ws()
    if (pos <= n) return refuse("must hold exactly one JSON value, found more after it")
    return 1
}

function skip_ws(    c) {
    while (pos <= n) {
        c = substr(text, pos, 1)
        if (c != " " && c != "\t" && c != "\n" && c != "\r") return
        pos++
    }
}

function syntax(what) { return "not valid JSON at byte " pos ": " what }

# true/false/null or a number; sets scalar_type and scalar_text.
function read_scalar(    start, c) {
    if (substr(text, pos, 4) == "true" || substr(text, pos, 4) == "null") {
        scalar_text = substr(text, pos, 4); pos += 4
        scalar_type = (scalar_text == "null") ? "null" : "boolean"
        return 1
    }
    if (substr(text, pos, 5) == "false") { scalar_text = "false"; scalar_type = "boolean"; pos += 5; return 1 }
    start = pos
    while (pos <= n && index("+-0123456789.eE", substr(text, pos, 1))) pos++
    scalar_text = substr(text, start, pos - start)
    if (scalar_text !~ /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) {
        pos = start
        return refuse(syntax(scalar_text == "" ? "unexpected character" : "malformed number"))
    }
    scalar_type = "number"
    return 1
}

# Reads the string at pos (an opening quote); returns its decoded bytes when `want` is true.
function read_string(want,    out, start, c, e, cp, lo) {
    pos++; out = ""; start = pos
    while (1) {
        if (pos > n) return refuse(syntax("unterminated string"))
        c = substr(text, pos, 1)
        if (c == "\"") { if (want) out = out substr(text, start, pos - start); pos++; return out }
        if (c == "\\") {
            if (want) out = out substr(text, start, pos - start)
            e = substr(text, pos + 1, 1); pos += 2
            if (e == "u") {
                cp = hex4()
                if (cp < 0) return refuse(syntax("\\u needs four hex digits"))
                if (cp >= 55296 && cp < 56320 && substr(text, pos, 2) == "\\u") {
                    pos += 2; lo = hex4()
                    if (lo >= 56320 && lo < 57344) cp = 65536 + (cp - 55296) * 1024 + (lo - 56320)
                    else pos -= 2
                }
                if (cp == 0) return refuse("a \\u0000 (NUL) character in a string is not supported")
                if (cp >= 55296 && cp < 57344) cp = 65533   # a lone surrogate, as jq reads it
                if (want) out = out utf8(cp)
            } else if (e == "\"" || e == "\\" || e == "/") { if (want) out = out e }
            else if (e == "n") { if (want) out = out "\n" }
            else if (e == "t") { if (want) out = out "\t" }
            else if (e == "r") { if (want) out = out "\r" }
            else if (e == "b") { if (want) out = out "\b" }
            else if (e == "f") { if (want) out = out "\f" }
            else { pos -= 2; return refuse(syntax("unknown escape in a string")) }
            start = pos
        } else if (index(CTRL, c)) return refuse(syntax("a control character must be escaped in a string"))
        else pos++
    }
}

# The four hex digits at pos as a number (pos moves past them), or -1.
function hex4(    v, i, d) {
    v = 0
    for (i = 0; i < 4; i++) {
        d = index(HEX, tolower(substr(text, pos + i, 1)))
        if (d == 0) return -1
        v = v * 16 + d - 1
    }
    pos += 4
    return v
}

function utf8(cp) {
    if (cp < 128) return sprintf("%c", cp)
    if (cp < 2048) return sprintf("%c%c", 192 + int(cp / 64), 128 + cp % 64)
    if (cp < 65536) return sprintf("%c%c%c", 224 + int(cp / 4096), 128 + int(cp / 64) % 64, 128 + cp % 64)
    return sprintf("%c%c%c%c", 240 + int(cp / 262144), 128 + int(cp / 4096) % 64, 128 + int(cp / 64) % 64, 128 + cp % 64)
}

# --- the files --------------------------------------------------------------------------------

function metadata_type() {
    if (TOP != "object" || T["type"] != "string")
        return refuse("metadata.json must be an object with a string \"type\"")
    print tolower(S["type"])
}

function str(k) { if (T[k] != "string") return refuse("\"" k "\" must be a string"); return 1 }
function nonempty(k) {
    if (!str(k)) return 0
    if (S[k] == "") return refuse("\"" k "\" must not be empty")
    return 1
}

# chaincode.json, as the peer writes it for run.
function check_chaincode() {
    if (TOP != "object") return refuse("chaincode.json must be a JSON object")
    if (!nonempty("chaincode_id") || !nonempty("peer_address") || !str("mspid")) return 0
    if (!str("client_cert") || !str("client_key") || !str("root_cert")) return 0
    if (S["client_cert"] != "" && (S["client_key"] == "" || S["root_cert"] == ""))
        return refuse("client_cert is set but client_key or root_cert is empty")
}

function cfail(m) { return refuse("connection.json: " m) }
function bool(k) {
    if ((k in T) && T[k] != "boolean") return cfail("\"" k "\" must be a JSON boolean (true/false, not a string)")
    return 1
}
function opt_str(k) { if ((k in T) && T[k] != "string") return cfail("\"" k "\" must be a string"); return 1 }
function pem(k) {
    if (T[k] == "string" && S[k] ~ /-----BEGIN [A-Z ]+-----/) return 1
    return cfail("\"" k "\" must be a PEM string")
}
function is_true(k) { return T[k] == "boolean" && V[k] == "true" }

# connection.json, mirroring how the peer unmarshals it (fabric core/container/externalbuilder
# ChaincodeServerUserData) but refusing what would only fail, or silently misbehave, at dial time.
function check_connection() {
    if (TOP != "object") return cfail("not a JSON object")
    if (!check_address() || !check_dial_timeout()) return 0
    if (!bool("tls_required") || !bool("client_auth_required") || !opt_str("domain")) return 0
    if (!opt_str("root_cert") || !opt_str("client_cert") || !opt_str("client_key")) return 0
    if (is_true("tls_required") && !pem("root_cert")) return 0
    if (is_true("client_auth_required")) {
        if (!is_true("tls_required")) return cfail("\"client_auth_required\" needs \"tls_required\": true")
        if (!pem("client_cert") || !pem("client_key")) return 0
    }
    return 1
}

function check_address(    a, host, port) {
    a = S["address"]
    if (T["address"] != "string" || a == "") return cfail("\"address\" (host:port) is required")
    if (index(a, "{{")) return cfail("\"address\" holds a template; fpc-external-launcher does not expand ccaas_builder templates")
    host = a; sub(/:[^:]*$/, "", host); port = substr(a, length(host) + 2)
    if (host == a || port !~ /^[0-9]+$/ || !valid_host(host))
        return cfail("\"address\" must be host:port, got \"" a "\"")
    if (port + 0 < 1 || port + 0 > 65535) return cfail("\"address\" port must be 1-65535")
    return 1
}

# A name or IPv4 address (no ':', '/', brackets or white space), or a bracketed IPv6 address.
function valid_host(h,    i, c) {
    if (h ~ /^\[[0-9A-Fa-f:.]+\]$/) return 1
    if (h == "") return 0
    for (i = 1; i <= length(h); i++) {
        c = substr(h, i, 1)
        if (index(":/[] \t\n\r\f\v", c)) return 0
    }
    return 1
}

# dial_timeout as a string: Go's time.ParseDuration grammar, as the peer parses it. A copy of the
# Rust parser (crates/fabric-formats, duration) must live here: the builder runs on the peer's
# image, where no Rust binary is present, and the peer reads connection.json itself.
function check_dial_timeout(    d, ns) {
    if (!("dial_timeout" in T)) return 1
    if (T["dial_timeout"] == "string") {
        d = S["dial_timeout"]
        ns = go_duration_ns(d)
        if (ns == "") return cfail("\"dial_timeout\" must be a Go duration such as \"10s\" or \"1m30s\", got \"" d "\"")
        if (ns > 0 && substr(d, 1, 1) == "-")
            return cfail("\"dial_timeout\" must be a non-negative Go duration such as \"10s\", got \"" d "\"")
        return 1
    }
    if (T["dial_timeout"] == "number") {
        d = V["dial_timeout"] + 0
        if (d >= 0 && d == int(d) && d < 9.2e18) return 1
        return cfail("\"dial_timeout\" as a number is whole nanoseconds (>= 0)")
    }
    return cfail("\"dial_timeout\" must be a duration string like \"10s\" or a number of nanoseconds")
}

# The magnitude in nanoseconds of Go duration text d, or "" when Go's time.ParseDuration refuses
# it: an optional sign, then "0" or one or more <number><unit> (number: 1, 1., .5 or 1.5; unit:
# ns us µs μs ms s m h), in total below 2^63 ns. Awk sums in doubles, so the bound is exact only
# to about a microsecond near 292 years; the grammar is exact.
function go_duration_ns(d,    s, total, n, u) {
    s = d
    if (s ~ /^[-+]/) s = substr(s, 2)
    if (s == "0") return 0
    if (s == "") return ""
    total = 0
    while (s != "") {
        if (!match(s, /^([0-9]+[.]?[0-9]*|[.][0-9]+)/)) return ""
        n = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1)
        if (!match(s, /^[^0-9.]+/)) return ""
        u = go_unit(substr(s, 1, RLENGTH)); s = substr(s, RLENGTH + 1)
        if (u == 0) return ""
        total += n * u
        if (total >= 9223372036854775807) return ""
    }
    return total
}

# Nanoseconds in Go duration unit u, 0 if Go has no such unit. Under LC_ALL=C, µ (U+00B5) and
# μ (U+03BC) are two bytes each.
function go_unit(u) {
    if (u == "ns") return 1
    if (u == "us" || u == "\302\265s" || u == "\316\274s") return 1000
    if (u == "ms") return 1000000
    if (u == "s") return 1000000000
    if (u == "m") return 60000000000
    if (u == "h") return 3600000000000
    return 0
}
