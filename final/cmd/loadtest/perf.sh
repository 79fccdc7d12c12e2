#!/bin/bash
# perf.sh: final against the real kube-apiserver, side by side, in one command.
#
#   final/cmd/loadtest/perf.sh [compare|scale|leases] [OUT]     (from the repository's root)
#
# compare (the default) runs ROUNDS rounds (default 3) of the same load (every default phase of
# loadtest) against
#   final            on its embedded SQLite store, durable (synchronous=FULL), fresh store,
#                    certificates made beforehand (as kube-apiserver's)
#   final-etcd       final with --etcd-servers, on a fresh etcd
#   kube-apiserver   the real one, on a fresh etcd
# each started by loadtest itself (--exec), so that its cold start is measured too, and each
# measured with its etcd's CPU and memory summed in (--pid). It writes
#   OUT/<label>-<round>.json   every run      OUT/report.md   medians, min–max, advantages
#   OUT/chart.svg              the advantages, drawn
#   OUT/coldstart-new-dir.md   final's cold start on an empty data directory, its certificates
#                              made as it starts (from OUT/coldstart-new-dir-<round>.json)
# scale runs final with 10,000 and then 100,000 objects (get, and single pages of a list);
# leases renews 1,000 Leases every 2 s for 10 minutes (LEASE_DURATION) with compaction every
# minute, and reports the latency and the database's size window by window.
#
# compare needs the kube-apiserver and etcd binaries in $KUBE_BIN (default
# ~/.cache/apiserver-reference/bin): build kube-apiserver from k8s.io/kubernetes v1.37.1
# (cmd/kube-apiserver) and etcd v3 (go.etcd.io/etcd/server/v3), and openssl for their
# certificates. LOADTEST_FLAGS adds flags to every run (say "--duration 3s --objects 2000"
# for a quick look). OUT defaults to perf-results.
set -euo pipefail
MODE=compare
case ${1:-} in compare|scale|leases) MODE=$1; shift ;; esac
OUT=$(realpath -m "${1:-perf-results}")
ROUNDS=${ROUNDS:-3}
KUBE_BIN=${KUBE_BIN:-$HOME/.cache/apiserver-reference/bin}
FINAL_PORT=27443 KUBE_PORT=27444 ETCD_PORT=27379 ETCD_PEER=27380
if [ "$MODE" = compare ]; then
  for b in kube-apiserver etcd; do
    [ -x "$KUBE_BIN/$b" ] || { echo "perf.sh: no $KUBE_BIN/$b (set KUBE_BIN)" >&2; exit 1; }
  done
fi
mkdir -p "$OUT"
WORK=$(mktemp -d)
ETCD_PID=""
cleanup() {
  [ -n "$ETCD_PID" ] && kill "$ETCD_PID" 2>/dev/null && wait "$ETCD_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building final and loadtest" >&2
go build -o "$WORK/final" ./final
go build -o "$WORK/loadtest" ./final/cmd/loadtest

# One admin token for both servers, and the certificates kube-apiserver needs.
TOKEN=$(openssl rand -hex 24)
echo "$TOKEN,admin,uid-admin,\"system:masters\"" > "$WORK/tokens.csv"

# final's certificates, made beforehand as kube-apiserver's are. final makes its credentials
# (CA, serving and client certificates, keys, kubeconfigs) on its first start and reuses those
# it finds, so it is started once here and stopped, and its store (state.db with its -wal,
# -shm and .lock) removed: each run then starts on a copy of these credentials and no store,
# as kube-apiserver starts on a fresh etcd with certificates made by openssl.
make_final_credentials() {
  local d="$WORK/final-credentials" pid
  "$WORK/final" --data-dir="$d" --secure-port=$FINAL_PORT --token-auth-file="$WORK/tokens.csv" \
    > "$WORK/final-credentials.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do curl -skf "https://127.0.0.1:$FINAL_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$d/state.db" "$d/state.db-wal" "$d/state.db-shm" "$d/state.db.lock"
  [ -s "$d/ca.crt" ] || { echo "perf.sh: final made no credentials; see $WORK/final-credentials.log" >&2; exit 1; }
}

# fresh_final_dir DIR makes DIR a data directory with the credentials and no store.
fresh_final_dir() { rm -rf "$1"; cp -a "$WORK/final-credentials" "$1"; }

# final_run LABEL JSON FLAGS... runs loadtest against a fresh final on SQLite.
final_run() {
  local label=$1 json=$2 d="$WORK/final-data"; shift 2
  fresh_final_dir "$d"
  "$WORK/loadtest" --label "$label" --server "https://127.0.0.1:$FINAL_PORT" --ca "$d/ca.crt" --token "$TOKEN" \
    --exec "$WORK/final --data-dir=$d --secure-port=$FINAL_PORT --token-auth-file=$WORK/tokens.csv ${FINAL_FLAGS:-}" \
    --data-file "$d/state.db" --json "$json" "$@" ||
    echo "perf.sh: loadtest $label failed; its JSON, if written, is kept" >&2
}

make_final_credentials

# shellcheck disable=SC2086 # LOADTEST_FLAGS is a list of flags
case $MODE in
scale)
  for n in 10000 100000; do
    echo "final with $n objects" >&2
    final_run "final-$n" "$OUT/scale-$n.json" --phases coldstart,create,get,list-page --objects "$n" --list-size "$n" ${LOADTEST_FLAGS:-}
  done
  "$WORK/loadtest" compare "$OUT/scale-10000.json" "$OUT/scale-100000.json" | tee "$OUT/scale.txt"
  exit 0 ;;
leases)
  echo "final, 1,000 leases renewed every 2 s for ${LEASE_DURATION:-10m}" >&2
  FINAL_FLAGS=--etcd-compaction-interval=1m final_run final-leases "$OUT/leases.json" \
    --phases coldstart,leases --lease-duration "${LEASE_DURATION:-10m}" ${LOADTEST_FLAGS:-}
  exit 0 ;;
esac
( cd "$WORK"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=perf-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=kube-apiserver 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null )

# start_etcd starts a fresh etcd and waits for its port; ETCD_PID is its PID.
start_etcd() {
  "$KUBE_BIN/etcd" --name perf --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-cluster "perf=http://127.0.0.1:$ETCD_PEER" \
    > "$WORK/etcd.log" 2>&1 &
  ETCD_PID=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$ETCD_PORT) 2>/dev/null && return; sleep 0.1; done
  echo "perf.sh: etcd did not start; see $WORK/etcd.log" >&2; exit 1
}
stop_etcd() { kill "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null || true; ETCD_PID=""; rm -rf "$WORK/etcd"; }

for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS: final (SQLite)" >&2
  final_run final "$OUT/final-$round.json" ${LOADTEST_FLAGS:-}

  # Apart from the table: final's cold start on an empty data directory, its credentials
  # made as it starts (kube-apiserver would need openssl first).
  D="$WORK/final-new"; rm -rf "$D"
  "$WORK/loadtest" --label final-new-dir --phases coldstart --server "https://127.0.0.1:$FINAL_PORT" --ca "$D/ca.crt" \
    --token "$TOKEN" --exec "$WORK/final --data-dir=$D --secure-port=$FINAL_PORT --token-auth-file=$WORK/tokens.csv" \
    --json "$OUT/coldstart-new-dir-$round.json" || echo "perf.sh: cold start on an empty data directory failed" >&2

  echo "round $round of $ROUNDS: final on etcd" >&2
  D="$WORK/final-data"; fresh_final_dir "$D"; start_etcd
  "$WORK/loadtest" --label final-etcd --server "https://127.0.0.1:$FINAL_PORT" --ca "$D/ca.crt" --token "$TOKEN" \
    --exec "$WORK/final --data-dir=$D --secure-port=$FINAL_PORT --token-auth-file=$WORK/tokens.csv --etcd-servers=http://127.0.0.1:$ETCD_PORT" \
    --pid "$ETCD_PID" --json "$OUT/final-etcd-$round.json" ${LOADTEST_FLAGS:-}
  stop_etcd

  echo "round $round of $ROUNDS: kube-apiserver on etcd" >&2
  start_etcd; rm -rf "$WORK/kube-certs"
  "$WORK/loadtest" --label kube-apiserver --server "https://127.0.0.1:$KUBE_PORT" --ca "$WORK/ca.crt" --token "$TOKEN" \
    --exec "$KUBE_BIN/kube-apiserver --bind-address=127.0.0.1 --secure-port=$KUBE_PORT --advertise-address=127.0.0.1 \
      --endpoint-reconciler-type=none --etcd-servers=http://127.0.0.1:$ETCD_PORT --service-cluster-ip-range=10.0.0.0/24 \
      --token-auth-file=$WORK/tokens.csv --authorization-mode=RBAC --client-ca-file=$WORK/ca.crt \
      --tls-cert-file=$WORK/server.crt --tls-private-key-file=$WORK/server.key \
      --service-account-issuer=https://kubernetes.default.svc --service-account-key-file=$WORK/sa.pub \
      --service-account-signing-key-file=$WORK/sa.key --api-audiences=https://kubernetes.default.svc \
      --cert-dir=$WORK/kube-certs" \
    --pid "$ETCD_PID" --json "$OUT/kube-apiserver-$round.json" ${LOADTEST_FLAGS:-}
  stop_etcd
done

RUNS=("$OUT"/final-[0-9]*.json "$OUT"/final-etcd-[0-9]*.json "$OUT"/kube-apiserver-[0-9]*.json)
"$WORK/loadtest" report "${RUNS[@]}" > "$OUT/report.md"
"$WORK/loadtest" chart "${RUNS[@]}" > "$OUT/chart.svg"
"$WORK/loadtest" report "$OUT"/coldstart-new-dir-*.json > "$OUT/coldstart-new-dir.md" || true
cat "$OUT/report.md" "$OUT/coldstart-new-dir.md"
echo "results in $OUT" >&2
