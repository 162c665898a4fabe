#!/usr/bin/env bash
# ptinfer's one entry point on a fresh Debian 12 machine (run as root, or with sudo available).
#
#   ./setup.sh demo    install dependencies, build, validate the Fashion-MNIST demo checkpoint
#   ./setup.sh test    install dependencies, build, run every test (ctest)
#   ./setup.sh build   install dependencies and build only
#   ./setup.sh sanitize [all]  build in build-sanitize/ with AddressSanitizer +
#                        UndefinedBehaviorSanitizer (GCC) and run the unit tests (every ctest
#                        entry but the e2e_* ones) against that build; `all` runs every test
#   ./setup.sh fuzz    build the libFuzzer targets (clang) in build-fuzz/ and run each for
#                      PTINFER_FUZZ_SECONDS (default 30) from seed PTINFER_FUZZ_SEED (default 1;
#                      0: random); any crash or sanitizer report fails
#   ./setup.sh bench [ARGS]  also install the benchmark-only dependencies (Node.js + npm, then
#                      onnxruntime-node into bench/node with --ignore-scripts), build, and run
#                      bench/anchors.py ARGS: ptinfer vs PyTorch, TorchScript and ONNX Runtime
#
# Idempotent: installed packages, the build folder and the demo images are reused.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
BUILD_DIR=${PTINFER_BUILD_DIR:-$ROOT/build}
JOBS=${PTINFER_JOBS:-$(nproc)}
SANITIZE_DIR=${PTINFER_SANITIZE_BUILD_DIR:-$ROOT/build-sanitize}
FUZZ_DIR=${PTINFER_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
FUZZ_SECONDS=${PTINFER_FUZZ_SECONDS:-30}
# A fixed seed makes the CI run repeatable (the same inputs on every machine, as many as its speed
# allows in FUZZ_SECONDS); PTINFER_FUZZ_SEED=0 lets libFuzzer pick one, for exploratory runs.
FUZZ_SEED=${PTINFER_FUZZ_SEED:-1}

PACKAGES=(
  build-essential cmake ccache pkg-config
  libtorch-dev libgloo-dev            # LibTorch 1.13 (CPU, oneDNN) and the c10d headers it needs
  libdnnl-dev                         # oneDNN headers: the fast path calls the libdnnl LibTorch links
  libopenblas0-pthread                # LibTorch's fp32 linear layers call libblas.so.3
  libjpeg62-turbo-dev libpng-dev      # image decoders (libjpeg-turbo, libpng)
  libturbojpeg0                       # the image fixture script writes YCCK JPEGs through it
  libspdlog-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  python3-torch python3-torchvision python3-pil python3-numpy   # the test oracle
  dataset-fashion-mnist               # the demo's images
  libcpp-httplib-dev                  # ptinfer serve's HTTP server
  curl python3-requests               # ptinfer serve's end-to-end tests (TorchServe/KServe clients)
  wrk                                 # bench/serve_load.sh
  clang-14 libclang-rt-14-dev llvm-14 # ./setup.sh fuzz: libFuzzer, sanitizer runtimes, symbolizer
)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    # No `| grep -q` here or below: under pipefail, grep leaving at the first match can kill
    # the writer with SIGPIPE and turn a match into a failure.
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return; fi
  echo "== installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  echo "== building in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

demo() {
  local data="$ROOT/demo/data/fashion-mnist"
  /usr/bin/python3 "$ROOT/scripts/make_fashion_mnist_folder.py" --out "$data/val"
  # The checkpoint was trained by scripts/train_fashion_mnist.py on 28x28 inputs normalized with
  # Fashion-MNIST's mean and std.
  "$BUILD_DIR/ptinfer" validate --data "$data" -a resnet18 \
    --resume "$ROOT/demo/fashion_mnist_resnet18.pth.tar" \
    --resize-size 28 --crop-size 28 --mean 0.2860 0.2860 0.2860 --std 0.3530 0.3530 0.3530 \
    -b 250 --print-freq 10 --json "$BUILD_DIR/demo_summary.json"
}

# with_scratch_tmpdir check|clean CMD...: runs CMD with TMPDIR set to a fresh folder, then removes
# that folder, so that no run can pile files up in /tmp. With `check`, anything left in it (but
# the e2e tests' shared ptinfer log folder) is listed and fails the run: every test removes what
# it made, passed or failed.
with_scratch_tmpdir() {
  local mode=$1 scratch status=0 left
  shift
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/ptinfer-run.XXXXXX")
  TMPDIR=$scratch "$@" || status=$?
  left=$(find "$scratch" -mindepth 1 -maxdepth 1 ! -name ptinfer-test-logs)
  if [ "$mode" = check ] && [ -n "$left" ]; then
    echo "== FAILED: the tests left these behind in TMPDIR:" >&2
    echo "$left" >&2
    status=1
  fi
  rm -rf "$scratch"
  return $status
}

# Tests run $JOBS at a time (the machine's cores); the ones whose assertions involve wall-clock
# timeouts are RUN_SERIAL in tests/CMakeLists.txt, so contention cannot fail them.
run_tests() {
  echo "== testing"
  cd "$BUILD_DIR"
  with_scratch_tmpdir check ctest --output-on-failure -j "$JOBS"
}

# Sanitizer settings for our code: stop at the first report (halt_on_error) with exit code 86,
# which no ptinfer run uses, so a test expecting 0, 1 or 2 fails. ASan and LSan reports also go
# to $1/report.<pid>, so one from a process that a test expected to fail is still seen (GCC's
# UBSan ignores log_path and prints to stderr: it is caught by the exit code). ASan's fast
# unwinder records allocation stacks (the slow one made every process ~5x slower to start:
# 5.5 s against 1.1 s for `ptinfer --help`); it stops at LibTorch's frames, which have no frame
# pointers, so a suppression could name only LibTorch's library, never a function there: the
# LeakSanitizer file holds none. Suppressions cover LibTorch only, each justified in its file.
sanitizer_env() {
  local logs=$1
  local common="halt_on_error=1:exitcode=86:log_path=$logs/report"
  export ASAN_OPTIONS="$common:detect_leaks=1:check_initialization_order=1"
  export UBSAN_OPTIONS="$common:print_stacktrace=1:suppressions=$ROOT/.ci/sanitizers/ubsan.supp"
  export LSAN_OPTIONS="suppressions=$ROOT/.ci/sanitizers/lsan.supp:print_suppressions=0"
}

# Fails when a sanitizer wrote any report under $1 (printing them).
check_sanitizer_logs() {
  local logs=$1
  if compgen -G "$logs/*" >/dev/null; then
    for f in "$logs"/*; do echo "== sanitizer report $f"; cat "$f"; done
    echo "== FAILED: sanitizer reports above" >&2
    return 1
  fi
}

sanitize() {
  local scope=${1:-unit}
  echo "== building with AddressSanitizer + UndefinedBehaviorSanitizer in $SANITIZE_DIR"
  cmake -S "$ROOT" -B "$SANITIZE_DIR" -DCMAKE_BUILD_TYPE=Release -DPTINFER_SANITIZE=ON >/dev/null
  cmake --build "$SANITIZE_DIR" -j "$JOBS"
  # ctest points the end-to-end tests at $SANITIZE_DIR/ptinfer (PTINFER_BINARY_DIR): check that
  # it is instrumented. It links libasan itself (first in its library list), so nothing is
  # LD_PRELOADed and the uninstrumented Python processes around it never load the runtime.
  # The list is read whole before it is searched: `ldd | grep -q` under pipefail failed in CI
  # when grep left at libasan (the first line) and ldd's next write got SIGPIPE.
  local linked
  linked=$(ldd "$SANITIZE_DIR/ptinfer") || linked=""
  if [[ $linked != *libasan* ]]; then
    echo "$SANITIZE_DIR/ptinfer is not built with -fsanitize=address (ldd lists no libasan)" >&2
    exit 1
  fi
  local logs="$SANITIZE_DIR/sanitizer-logs" status=0
  rm -rf "$logs" && mkdir -p "$logs"
  local filter=(-E '^e2e_')
  [ "$scope" = all ] && filter=()
  echo "== testing ($scope) under the sanitizers (reports: $logs)"
  (sanitizer_env "$logs" && cd "$SANITIZE_DIR" &&
   with_scratch_tmpdir check ctest --output-on-failure -j "$JOBS" "${filter[@]}") ||
    status=$?
  check_sanitizer_logs "$logs" || status=1
  return $status
}

fuzz() {
  local cxx=${PTINFER_FUZZ_CXX:-clang++-14}
  echo "== building the fuzz targets with $cxx in $FUZZ_DIR"
  cmake -S "$ROOT" -B "$FUZZ_DIR" -DCMAKE_BUILD_TYPE=Release -DPTINFER_FUZZ=ON \
    -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
  cmake --build "$FUZZ_DIR" -j "$JOBS" --target ptinfer_fuzzers
  mkdir -p "$FUZZ_DIR/artifacts"
  with_scratch_tmpdir clean run_fuzzers
}

# Runs every target built in $FUZZ_DIR for FUZZ_SECONDS; returns non-zero at the first finding
# (explicitly: called from with_scratch_tmpdir's `||`, where `set -e` does not apply).
run_fuzzers() {
  for exe in "$FUZZ_DIR"/fuzz/*_fuzz; do
    local name
    name=$(basename "$exe" _fuzz)
    echo "== fuzzing $name for ${FUZZ_SECONDS}s (seeds: fuzz/corpus/$name)"
    mkdir -p "$FUZZ_DIR/corpus/$name"
    # New inputs go to the first folder (build-fuzz/corpus/NAME); the committed seeds are read
    # only. A crash, a sanitizer report, an input running over -timeout seconds (generous:
    # a JPEG near the pixel limit takes seconds under ASan) or a process over -rss_limit_mb
    # (also the per-allocation limit) stops the run: the input is saved as
    # build-fuzz/artifacts/NAME-<kind>-<sha1> (replay: $exe <file>).
    (ASAN_OPTIONS="halt_on_error=1" \
     UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/.ci/sanitizers/ubsan.supp" \
     LSAN_OPTIONS="suppressions=$ROOT/.ci/sanitizers/lsan.supp:print_suppressions=0" \
     "$exe" -seed="$FUZZ_SEED" -max_total_time="$FUZZ_SECONDS" -timeout=60 -rss_limit_mb=2560 -print_final_stats=1 \
       -print_funcs=0 -artifact_prefix="$FUZZ_DIR/artifacts/$name-" "$FUZZ_DIR/corpus/$name" "$ROOT/fuzz/corpus/$name") || return
  done
}

# Benchmark-only dependencies, kept out of the test path: bench/anchors.py's ONNX Runtime anchor
# runs under Node.js. Debian 12's nodejs + npm packages, unless a node with npm is already there
# (e.g. NodeSource's nodejs, which bundles npm and conflicts with Debian's npm package). The npm
# package's install script downloads from elsewhere, so it is skipped: the CPU library it needs
# is inside the package (bench/node/package-lock.json pins the version).
install_bench_dependencies() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  if [ ! -d "$ROOT/bench/node/node_modules/onnxruntime-node" ]; then
    (cd "$ROOT/bench/node" && npm ci --ignore-scripts --no-audit --no-fund)
  fi
}

case "${1:-demo}" in
  demo) install_packages; build; demo ;;
  test) install_packages; build; run_tests ;;
  build) install_packages; build ;;
  sanitize) install_packages; sanitize "${2:-unit}" ;;
  fuzz) install_packages; fuzz ;;
  bench) install_packages; install_bench_dependencies; build
         PTINFER="$BUILD_DIR/ptinfer" /usr/bin/python3 "$ROOT/bench/anchors.py" "${@:2}" ;;
  *) echo "usage: $0 [demo|test|build|sanitize|fuzz|bench]" >&2; exit 2 ;;
esac
