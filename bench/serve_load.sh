#!/bin/bash
# Load test of `ptinfer serve` with wrk: requests/s and p50/p99 latency of POST
# /predictions/{model} (one ImageNet-sized JPEG per request) per architecture and concurrency,
# with dynamic batching on (--max-batch-size BATCH) and off (--max-batch-size 1), and the served
# img/s (one image per request) as a fraction of `ptinfer bench` img/s at the same batch size
# (BATCH for batching on, 1 for off), measured in the same run just before that arch's rows.
# Served img/s also pays for JPEG decoding and preprocessing on the same cores; the goal is
# >= 0.9 at concurrency 32.
#
# Usage: bench/serve_load.sh [BUILD_DIR=build] [ARCHS="resnet18 resnet50"] [SECONDS=10]
#        [CONCURRENCY="1 8 32 128"] [BATCH=8]
# Models have random weights (their speed does not depend on them). Prints a Markdown table.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
ARCHS="${2:-resnet18 resnet50}"
DURATION="${3:-10}"
CONCURRENCY="${4:-1 8 32 128}"
BATCH="${5:-8}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }

WORK="$(mktemp -d /tmp/ptinfer_serve_load.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

/usr/bin/python3 "$ROOT/bench/make_imagenet_like.py" --out "$WORK/img/x" --images 1 >/dev/null
IMAGE="$(find "$WORK/img" -type f | sort | head -1)"
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
local f = io.open("$IMAGE", "rb")
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
LUA

start_server() {  # $1: arch, $2: max batch size
  "$BUILD/ptinfer" serve --port 0 --model "m=$WORK/$1.pth,arch=$1" \
    --max-batch-size "$2" --max-queue-delay-us 2000 --queue-size 256 --http-threads 160 \
    --max-connections 256 > "$WORK/server.out" 2> "$WORK/server.err" &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 1200); do
    if grep -q '^ptinfer serve: ready$' "$WORK/server.out"; then
      PORT="$(sed -n 's|^ptinfer serve: listening on http://[^:]*:\([0-9]*\).*|\1|p' "$WORK/server.out")"
      return
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err"; exit 1; }
    sleep 0.5
  done
  echo "server did not become ready"; exit 1
}

stop_server() {
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""
}

counters() {  # "model calls, batch-size sum" from one scrape, so that the two agree
  curl -s "http://127.0.0.1:$PORT/metrics" | awk '
    index($0, "ptinfer_model_calls_total{model=\"m\"}") == 1 {c = $NF}
    index($0, "ptinfer_batch_size_sum{model=\"m\"}") == 1 {s = $NF}
    END {print c + 0, s + 0}'
}

echo "| arch | max batch | concurrency | req/s | p50 | p99 | non-2xx | model calls | mean batch | bench img/s | served / bench |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for arch in $ARCHS; do
  /usr/bin/python3 - "$arch" "$WORK/$arch.pth" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
torch.save(getattr(torchvision.models, sys.argv[1])().state_dict(), sys.argv[2])
PY
  # The anchor: the Engine alone at batch 1 and BATCH, as long as one serve row.
  "$BUILD/ptinfer" bench -a "$arch" --resume "$WORK/$arch.pth" -b 1 -b "$BATCH" \
    --seconds "$DURATION" --json "$WORK/bench.json" > /dev/null
  for batch in "$BATCH" 1; do
    anchor="$(/usr/bin/python3 -c 'import json,sys; print([r["images_per_second"] for r in json.load(open(sys.argv[1]))["rows"] if r["batch_size"] == int(sys.argv[2])][0])' "$WORK/bench.json" "$batch")"
    start_server "$arch" "$batch"
    for c in $CONCURRENCY; do
      threads=$(( c < 2 ? c : 2 ))
      read -r calls0 sum0 <<< "$(counters)"
      out="$(wrk -t "$threads" -c "$c" -d "${DURATION}s" --timeout 60s --latency \
        -s "$WORK/post.lua" "http://127.0.0.1:$PORT/predictions/m")"
      read -r calls1 sum1 <<< "$(counters)"
      rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
      p50="$(echo "$out" | awk '$1 == "50%" {print $2}')"
      p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
      bad="$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
      row="$(/usr/bin/python3 -c '
import sys
rps, anchor, c0, c1, s0, s1 = (float(x or 0) for x in sys.argv[1:])
calls = c1 - c0
mean = (s1 - s0) / calls if calls else 0
print("%d | %.2f | %.2f | %.2f" % (calls, mean, anchor, rps / anchor))' \
        "$rps" "$anchor" "$calls0" "$calls1" "$sum0" "$sum1")"
      echo "| $arch | $batch | $c | $rps | $p50 | $p99 | ${bad:-0} | $row |"
    done
    stop_server
  done
done
