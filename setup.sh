#!/usr/bin/env bash
# ptinfer's one entry point on a fresh Debian 12 machine (run as root, or with sudo available).
#
#   ./setup.sh demo    install dependencies, build, validate the Fashion-MNIST demo checkpoint
#   ./setup.sh test    install dependencies, build, run every test (ctest)
#   ./setup.sh build   install dependencies and build only
#
# Idempotent: installed packages, the build folder and the demo images are reused.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
BUILD_DIR=${PTINFER_BUILD_DIR:-$ROOT/build}
JOBS=${PTINFER_JOBS:-$(nproc)}

PACKAGES=(
  build-essential cmake ccache pkg-config
  libtorch-dev libgloo-dev            # LibTorch 1.13 (CPU, oneDNN) and the c10d headers it needs
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
)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
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

run_tests() {
  echo "== testing"
  cd "$BUILD_DIR"
  ctest --output-on-failure -j 1
}

case "${1:-demo}" in
  demo) install_packages; build; demo ;;
  test) install_packages; build; run_tests ;;
  build) install_packages; build ;;
  *) echo "usage: $0 [demo|test|build]" >&2; exit 2 ;;
esac
