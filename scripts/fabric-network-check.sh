#!/usr/bin/env bash
# Real-network check for maintainers (not part of CI): stands up a Fabric network on loopback
# (one etcdraft orderer, two organisations with one peer each, TLS everywhere), deploys the
# registry in both modes and runs the registry's checks through the `peer` CLI:
#
#   1. normal mode: `ercc package normal`, installed through this repository's fpc-c builder;
#   2. chaincode-as-a-service through Fabric's own ccaas_builder: `ercc package caas --address`
#      with a template filled per peer from CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG, one ercc
#      server per organisation started with CHAINCODE_ID, committed as the next sequence.
#
# Usage:
#   FABRIC_BIN=/path/to/fabric/bin scripts/fabric-network-check.sh
#
#   FABRIC_BIN   folder with Fabric's release binaries: peer, orderer, configtxgen, cryptogen,
#                osnadmin (v2.5 or v3; a release tarball's bin/)
#   FABRIC_CFG   folder with Fabric's core.yaml and orderer.yaml (default: $FABRIC_BIN/../config)
#   CCAAS_BUILDER  Fabric's ccaas_builder folder, holding bin/ (default: $FABRIC_BIN/../builders/ccaas)
#   ERCC         the ercc binary (default: target/release/ercc; built if missing)
#   KEEP=1       leave the network's folder (printed) in place after the run
#   BASE_PORT    first of the loopback ports used (default 17050; 20 ports from there)
#
# It prints each step and ends with "network check passed", or stops at the first failure
# with the tails of the orderer's, peers' and CaaS servers' logs. Everything runs as the current
# user under one temporary folder, every listener on 127.0.0.1.
#
# Binaries built from Fabric's source instead of a release tarball: point FABRIC_CFG at the
# source tree's sampleconfig/ and CCAAS_BUILDER at a folder holding ccaas_builder's
# bin/{detect,build,release}.
set -euo pipefail

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'network check FAILED: %s\n' "$*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
: "${FABRIC_BIN:?set FABRIC_BIN to a folder with peer, orderer, configtxgen, cryptogen, osnadmin}"
bin_dir=$(cd "$FABRIC_BIN" 2>/dev/null && pwd) || fail "FABRIC_BIN ($FABRIC_BIN) is not a folder"
FABRIC_BIN=$bin_dir
FABRIC_CFG=${FABRIC_CFG:-$FABRIC_BIN/../config}
CCAAS_BUILDER=${CCAAS_BUILDER:-$FABRIC_BIN/../builders/ccaas}
ERCC=${ERCC:-$repo/target/release/ercc}
BASE_PORT=${BASE_PORT:-17050}
channel=mychannel

for tool in peer orderer configtxgen cryptogen osnadmin; do
    [ -x "$FABRIC_BIN/$tool" ] || fail "$FABRIC_BIN/$tool is missing"
done
[ -f "$FABRIC_CFG/core.yaml" ] && [ -f "$FABRIC_CFG/orderer.yaml" ] ||
    fail "no core.yaml and orderer.yaml in $FABRIC_CFG (set FABRIC_CFG)"
[ -x "$CCAAS_BUILDER/bin/build" ] || fail "no ccaas_builder at $CCAAS_BUILDER (set CCAAS_BUILDER)"
if [ ! -x "$ERCC" ]; then
    say "building ercc"
    (cd "$repo" && cargo build --release -p ercc)
fi
export PATH="$FABRIC_BIN:$PATH"
peer version | sed -n 's/^ *\(Version\|Commit SHA\): */fabric peer \1: /p'

work=$(mktemp -d "${TMPDIR:-/tmp}/ercc-network.XXXXXX")
pids=()
cleanup() {
    local rc=$? pid alive i
    # Every failure (a failed command or `fail`) ends here with rc != 0: show the logs' tails.
    if [ "$rc" -ne 0 ]; then
        for f in "$work"/*.log; do
            [ -f "$f" ] || continue
            echo "--- tail of $f"; tail -n 30 "$f"
        done >&2
    fi
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || :; done
    # Bounded: 15 s for everything started here to stop (a peer stops its chaincodes first).
    for i in $(seq 15); do
        alive=
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ -n "$alive" ] || break
        sleep 1
    done
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || :; done
    if [ "${KEEP:-}" = 1 ]; then echo "network folder kept: $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT

port() { echo $((BASE_PORT + $1)); }
orderer_port=$(port 0) orderer_admin=$(port 3) orderer_ops=$(port 4)

say "crypto material and channel genesis block in $work"
cat >"$work/crypto-config.yaml" <<EOF
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS: [localhost, 127.0.0.1]
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template: {Count: 1, SANS: [localhost, 127.0.0.1]}
    Users: {Count: 1}
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: true
    Template: {Count: 1, SANS: [localhost, 127.0.0.1]}
    Users: {Count: 1}
EOF
cryptogen generate --config="$work/crypto-config.yaml" --output="$work/crypto" >/dev/null
ord=$work/crypto/ordererOrganizations/example.com/orderers/orderer.example.com
orderer_ca=$ord/tls/ca.crt

org_block() { # MSPID DOMAIN
    cat <<EOF
  - &$1
    Name: $1
    ID: $1
    MSPDir: crypto/peerOrganizations/$2/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('$1.admin', '$1.peer', '$1.client')"}
      Writers: {Type: Signature, Rule: "OR('$1.admin', '$1.client')"}
      Admins: {Type: Signature, Rule: "OR('$1.admin')"}
      Endorsement: {Type: Signature, Rule: "OR('$1.peer')"}
EOF
}
{
    cat <<EOF
Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: crypto/ordererOrganizations/example.com/msp
    OrdererEndpoints: [127.0.0.1:$orderer_port]
    Policies:
      Readers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Writers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Admins: {Type: Signature, Rule: "OR('OrdererMSP.admin')"}
EOF
    org_block Org1MSP org1.example.com
    org_block Org2MSP org2.example.com
    cat <<EOF
Capabilities:
  Channel: &ChannelCapabilities {V2_0: true}
  Orderer: &OrdererCapabilities {V2_0: true}
  Application: &ApplicationCapabilities {V2_5: true}
Application: &ApplicationDefaults
  Organizations:
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
    LifecycleEndorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
    Endorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
  Capabilities: *ApplicationCapabilities
Orderer: &OrdererDefaults
  OrdererType: etcdraft
  EtcdRaft:
    Consenters:
      - Host: 127.0.0.1
        Port: $orderer_port
        ClientTLSCert: $ord/tls/server.crt
        ServerTLSCert: $ord/tls/server.crt
  BatchTimeout: 1s
  BatchSize: {MaxMessageCount: 10, AbsoluteMaxBytes: 99 MB, PreferredMaxBytes: 512 KB}
  Organizations:
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
    BlockValidation: {Type: ImplicitMeta, Rule: "ANY Writers"}
  Capabilities: *OrdererCapabilities
Channel: &ChannelDefaults
  Policies:
    Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
    Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
  Capabilities: *ChannelCapabilities
Profiles:
  TwoOrgs:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      Organizations: [*OrdererOrg]
    Application:
      <<: *ApplicationDefaults
      Organizations: [*Org1MSP, *Org2MSP]
EOF
} >"$work/configtx.yaml"
configtxgen -configPath "$work" -profile TwoOrgs -channelID "$channel" \
    -outputBlock "$work/$channel.block" 2>"$work/configtxgen.log"

say "orderer on 127.0.0.1:$orderer_port"
mkdir -p "$work/orderer"
env FABRIC_CFG_PATH="$FABRIC_CFG" \
    ORDERER_GENERAL_LISTENADDRESS=127.0.0.1 ORDERER_GENERAL_LISTENPORT="$orderer_port" \
    ORDERER_GENERAL_LOCALMSPID=OrdererMSP ORDERER_GENERAL_LOCALMSPDIR="$ord/msp" \
    ORDERER_GENERAL_TLS_ENABLED=true ORDERER_GENERAL_TLS_PRIVATEKEY="$ord/tls/server.key" \
    ORDERER_GENERAL_TLS_CERTIFICATE="$ord/tls/server.crt" ORDERER_GENERAL_TLS_ROOTCAS="[$orderer_ca]" \
    ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE="$ord/tls/server.crt" \
    ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY="$ord/tls/server.key" \
    ORDERER_GENERAL_CLUSTER_ROOTCAS="[$orderer_ca]" \
    ORDERER_GENERAL_BOOTSTRAPMETHOD=none ORDERER_CHANNELPARTICIPATION_ENABLED=true \
    ORDERER_ADMIN_LISTENADDRESS="127.0.0.1:$orderer_admin" ORDERER_ADMIN_TLS_ENABLED=true \
    ORDERER_ADMIN_TLS_PRIVATEKEY="$ord/tls/server.key" ORDERER_ADMIN_TLS_CERTIFICATE="$ord/tls/server.crt" \
    ORDERER_ADMIN_TLS_ROOTCAS="[$orderer_ca]" ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true \
    ORDERER_ADMIN_TLS_CLIENTROOTCAS="[$orderer_ca]" \
    ORDERER_FILELEDGER_LOCATION="$work/orderer/ledger" \
    ORDERER_CONSENSUS_WALDIR="$work/orderer/wal" ORDERER_CONSENSUS_SNAPDIR="$work/orderer/snap" \
    ORDERER_OPERATIONS_LISTENADDRESS="127.0.0.1:$orderer_ops" \
    orderer >"$work/orderer.log" 2>&1 &
pids+=($!)

retry() { # TRIES COMMAND...: runs COMMAND until it succeeds, one second apart
    local n=$1; shift
    until "$@" >/dev/null 2>&1; do
        n=$((n - 1)); [ "$n" -gt 0 ] || { "$@"; return 1; }
        sleep 1
    done
}
retry 30 osnadmin channel join --channelID "$channel" --config-block "$work/$channel.block" \
    -o "127.0.0.1:$orderer_admin" --ca-file "$orderer_ca" \
    --client-cert "$ord/tls/server.crt" --client-key "$ord/tls/server.key"

# core.yaml with this network's external builders in place of the sample's list: Fabric's
# ccaas_builder and this repository's fpc-c (the stock peer image would list ccaas_builder alone).
peer_core_yaml() { # DIR
    mkdir -p "$1"
    awk -v ccaas="$CCAAS_BUILDER" -v fpc="$repo/fabric/externalBuilder/chaincode" '
        /^  externalBuilders:/ {
            print "  externalBuilders:"
            print "    - name: ccaas_builder"
            print "      path: " ccaas
            print "      propagateEnvironment: [CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG]"
            print "    - name: fpc-c"
            print "      path: " fpc
            print "      propagateEnvironment: [FABRIC_LOGGING_SPEC, ERCC_ACCEPTED_EVIDENCE]"
            skip = 1; next
        }
        skip && /^  [A-Za-z]/ { skip = 0 }
        skip && /^[A-Za-z]/ { skip = 0 }
        !skip { print }
    ' "$FABRIC_CFG/core.yaml" >"$1/core.yaml"
    grep -q "name: fpc-c" "$1/core.yaml" || fail "could not set externalBuilders in $1/core.yaml"
}

# Per organisation N (1, 2): ports, folders, and the CLI environment of its admin.
org_msp() { echo "Org$1MSP"; }
org_dir() { echo "$work/crypto/peerOrganizations/org$1.example.com"; }
peer_port() { port $((5 + 5 * ($1 - 1))); }
peer_tls_ca() { echo "$(org_dir "$1")/peers/peer0.org$1.example.com/tls/ca.crt"; }
as_admin() { # N COMMAND...
    local n=$1; shift
    env FABRIC_CFG_PATH="$FABRIC_CFG" CORE_PEER_TLS_ENABLED=true \
        CORE_PEER_LOCALMSPID="$(org_msp "$n")" \
        CORE_PEER_MSPCONFIGPATH="$(org_dir "$n")/users/Admin@org$n.example.com/msp" \
        CORE_PEER_ADDRESS="127.0.0.1:$(peer_port "$n")" \
        CORE_PEER_TLS_ROOTCERT_FILE="$(peer_tls_ca "$n")" "$@"
}

start_peer() { # N
    local n=$1 p; p=$(peer_port "$1")
    local dir=$work/peer$n tls; tls=$(org_dir "$n")/peers/peer0.org$n.example.com
    peer_core_yaml "$dir"
    env FABRIC_CFG_PATH="$dir" CORE_PEER_ID="peer0.org$n.example.com" \
        CORE_PEER_ADDRESS="127.0.0.1:$p" CORE_PEER_LISTENADDRESS="127.0.0.1:$p" \
        CORE_PEER_CHAINCODEADDRESS="127.0.0.1:$((p + 1))" \
        CORE_PEER_CHAINCODELISTENADDRESS="127.0.0.1:$((p + 1))" \
        CORE_PEER_GOSSIP_BOOTSTRAP="127.0.0.1:$p" CORE_PEER_GOSSIP_EXTERNALENDPOINT="127.0.0.1:$p" \
        CORE_PEER_LOCALMSPID="$(org_msp "$n")" CORE_PEER_MSPCONFIGPATH="$tls/msp" \
        CORE_PEER_TLS_ENABLED=true CORE_PEER_TLS_CERT_FILE="$tls/tls/server.crt" \
        CORE_PEER_TLS_KEY_FILE="$tls/tls/server.key" CORE_PEER_TLS_ROOTCERT_FILE="$tls/tls/ca.crt" \
        CORE_PEER_FILESYSTEMPATH="$dir/data" CORE_LEDGER_SNAPSHOTS_ROOTDIR="$dir/snapshots" \
        CORE_OPERATIONS_LISTENADDRESS="127.0.0.1:$((p + 2))" CORE_VM_ENDPOINT= \
        CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG="{\"peername\":\"peer0org$n\",\"port\":\"$(port $((14 + n)))\"}" \
        FABRIC_LOGGING_SPEC=INFO \
        peer node start >"$work/peer$n.log" 2>&1 &
    pids+=($!)
}

for n in 1 2; do
    say "peer0.org$n on 127.0.0.1:$(peer_port $n), joining $channel"
    start_peer "$n"
    retry 30 as_admin "$n" peer channel join -b "$work/$channel.block"
done

orderer_flags=(-o "127.0.0.1:$orderer_port" --tls --cafile "$orderer_ca")
both_peers=(--peerAddresses "127.0.0.1:$(peer_port 1)" --tlsRootCertFiles "$(peer_tls_ca 1)"
            --peerAddresses "127.0.0.1:$(peer_port 2)" --tlsRootCertFiles "$(peer_tls_ca 2)")

deploy() { # PACKAGE_FILE PACKAGE_ID SEQUENCE
    for n in 1 2; do
        as_admin "$n" peer lifecycle chaincode install "$1" 2>&1 | tail -n 1
        as_admin "$n" peer lifecycle chaincode approveformyorg "${orderer_flags[@]}" \
            --channelID "$channel" --name ercc --version 1.0 --sequence "$3" --package-id "$2" 2>&1 | tail -n 1
    done
    as_admin 1 peer lifecycle chaincode commit "${orderer_flags[@]}" "${both_peers[@]}" \
        --channelID "$channel" --name ercc --version 1.0 --sequence "$3" 2>&1 | tail -n 1
}

# The registry's checks, through the peer CLI of both organisations.
check_registry() { # MODE
    local out
    for n in 1 2; do
        retry 60 as_admin "$n" peer chaincode query -C "$channel" -n ercc \
            -c '{"Args":["queryListProvisionedEnclaves","mycc"]}' ||
            fail "$1: queryListProvisionedEnclaves on peer0.org$n"
        if out=$(as_admin "$n" peer chaincode query -C "$channel" -n ercc \
            -c '{"Args":["queryChaincodeEncryptionKey","mycc"]}' 2>&1); then
            fail "$1: queryChaincodeEncryptionKey succeeded with nothing registered: $out"
        fi
        case $out in
            *"no enclave registered"*) ;;
            *) fail "$1: queryChaincodeEncryptionKey on peer0.org$n failed, but not with the registry's refusal: $out" ;;
        esac
        echo "$1, peer0.org$n: queryChaincodeEncryptionKey refused as expected: ${out##*message:}"
    done
    # Each endorser on its own (a query is an endorsement without ordering): the registry itself
    # must refuse, not the endorsement policy or the network.
    local garbage='{"Args":["registerEnclave","bm90IGNyZWRlbnRpYWxz"]}'
    for n in 1 2; do
        if out=$(as_admin "$n" peer chaincode query -C "$channel" -n ercc -c "$garbage" 2>&1); then
            fail "$1: peer0.org$n endorsed registerEnclave of garbage credentials: $out"
        fi
        case $out in
            *"invalid credential"*) ;;
            *) fail "$1: registerEnclave of garbage on peer0.org$n failed, but not with the registry's refusal: $out" ;;
        esac
        out="invalid credential${out#*invalid credential}"
        out=${out%%$'\n'*}
        echo "$1, peer0.org$n: registerEnclave of garbage refused: ${out%\"}"
    done
    # And as a transaction sent to both endorsers and the orderer.
    if out=$(as_admin 1 peer chaincode invoke "${orderer_flags[@]}" "${both_peers[@]}" -C "$channel" \
        -n ercc -c "$garbage" --waitForEvent 2>&1); then
        fail "$1: registerEnclave accepted garbage credentials: $out"
    fi
    case $out in
        *"invalid credential"*) ;;
        *) fail "$1: invoke of registerEnclave failed, but not with the registry's refusal: $out" ;;
    esac
    echo "$1: invoke of registerEnclave with garbage refused at endorsement"
}

say "normal mode: ercc package normal, installed through fpc-c"
normal_id=$("$ERCC" package normal --label ercc_1 --out "$work/ercc.tar.gz" --binary "$ERCC")
deploy "$work/ercc.tar.gz" "$normal_id" 1
check_registry "normal mode"
for n in 1 2; do
    # In normal mode the registry is a child of fpc-c's run: its log lines are in the peer's log.
    grep "chaincode.externalbuilder.fpc-c" "$work/peer$n.log" | grep -q "chaincode registered with the peer" ||
        fail "peer0.org$n's log shows no registry launched by fpc-c's run"
done

say "chaincode-as-a-service through Fabric's ccaas_builder (sequence 2)"
caas_id=$("$ERCC" package caas --label ercc_caas_1 --out "$work/ercc-caas.tar.gz" \
    --address '127.0.0.1:{{.port}}')
for n in 1 2; do
    # One server per organisation, each at the port its peer's builder config names.
    env CHAINCODE_ID="$caas_id" CHAINCODE_SERVER_ADDRESS="127.0.0.1:$(port $((14 + n)))" \
        FABRIC_LOGGING_SPEC=INFO "$ERCC" >"$work/ercc-caas-$n.log" 2>&1 &
    pids+=($!)
done
deploy "$work/ercc-caas.tar.gz" "$caas_id" 2
check_registry "CaaS"
for n in 1 2; do
    # The server logs its start-up on its own; only a registration means the peer dialled it.
    grep -q "chaincode registered with the peer" "$work/ercc-caas-$n.log" ||
        fail "the CaaS server of org$n never registered with a peer: did peer0.org$n dial it?"
done

say "network check passed (normal mode via fpc-c, CaaS via ccaas_builder, two organisations)"
