#!/usr/bin/env bash
# Builds the engine's libraries and tools/amp_device_check against the PyTorch that `python3` on
# this machine holds, then runs the mixed-precision checks on DEVICE and the Python reference
# (amp_cuda_reference.py) on the same images. Made for a CUDA machine lent through the device
# tool, which has pip's torch with CUDA but none of the Debian packages setup.sh installs: the
# header-only libraries come from DEPS/include (spdlog, fmt, nlohmann copied from Debian), and
# libjpeg-turbo and libpng (headers in DEPS/include, libraries in DEPS/lib, from Debian 12). The
# fast path (oneDNN headers) is left out: -DPTINFER_WITHOUT_FASTPATH.
#
# usage: tools/device/amp_cuda_check.sh SRC DEPS OUT [DEVICE]
#   SRC     a ptinfer source tree          DEPS  DEPS/include, DEPS/lib, Fashion-MNIST's t10k .gz files
#   OUT     logs and summary.json go here  DEVICE  cuda:0 (default), or cpu to try it anywhere
# Exit status: the check's (0 all hold, 1 a check failed), 3 when the build fails.
set -uo pipefail
SRC=$(realpath "$1"); DEPS=$(realpath "$2"); OUT=$(realpath "$3"); DEVICE=${4:-cuda:0}
WORK=$(mktemp -d)
PY=${PYTHON:-python3}
TP=$($PY -c 'import os, torch; print(os.path.dirname(torch.__file__))')
ABI=$($PY -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
echo "torch $($PY -c 'import torch; print(torch.__version__, torch.version.cuda)') at $TP, cxx11 abi $ABI"
INC=(-I"$SRC/src" -I"$SRC" -isystem "$DEPS/include")
LIBS=()
if [ -d "$TP/include/torch" ]; then  # pip's layout; Debian's torch lives in /usr/include and /usr/lib
  INC+=(-isystem "$TP/include" -isystem "$TP/include/torch/csrc/api/include")
  LIBS+=(-L"$TP/lib" -Wl,-rpath,"$TP/lib")
fi
STD=${PTINFER_CXX_STD:-}
if [ -z "$STD" ]; then
  STD=c++17
  echo '#include <torch/torch.h>' | g++ -std=c++17 -D_GLIBCXX_USE_CXX11_ABI=$ABI "${INC[@]}" \
    -fsyntax-only -x c++ - 2>"$WORK/std.log" || STD=c++20
fi
echo "compiling as $STD"
FLAGS=(-O2 -std=$STD -D_GLIBCXX_USE_CXX11_ABI=$ABI -DSPDLOG_FMT_EXTERNAL -DFMT_HEADER_ONLY -DPTINFER_WITHOUT_FASTPATH
       -ffp-contract=off -fmax-errors=5 -w "${INC[@]}")
CUDA_STATS=()
if [ -d /usr/local/cuda/include ] && [ "${DEVICE%%:*}" = cuda ]; then
  CUDA_STATS=(-DPTINFER_WITH_CUDA_STATS -isystem /usr/local/cuda/include)
fi
SOURCES=$(cd "$SRC" && ls src/common/*.cpp src/runtime/*.cpp src/checkpoint/*.cpp src/models/*.cpp \
          src/amp/*.cpp src/engine/*.cpp src/data/*.cpp src/metrics/*.cpp src/train/*.cpp \
          tools/amp_device_check.cpp tools/cuda_memory_stats.cpp tools/fashion_mnist_idx.cpp |
          grep -v '_test\.cpp$')
mkdir -p "$WORK/obj"
compile() {  # source -> object; one log per source
  local src=$1 obj="$WORK/obj/$(echo "$1" | tr / _).o" extra=()
  [ "$src" = tools/cuda_memory_stats.cpp ] && extra=("${CUDA_STATS[@]}")
  if ! g++ "${FLAGS[@]}" "${extra[@]}" -c "$SRC/$src" -o "$obj" 2>"$obj.log"; then
    if [ ${#extra[@]} -gt 0 ]; then  # the allocator's statistics are optional
      echo "cuda_memory_stats: built without the allocator statistics"; cat "$obj.log" | head -5
      g++ "${FLAGS[@]}" -c "$SRC/$src" -o "$obj" 2>"$obj.log" && return 0
    fi
    echo "=== FAILED: $src"; cat "$obj.log"; return 1
  fi
}
export -f compile; export SRC WORK STD ABI
export FLAGS_STR="${FLAGS[*]}"
FAILED=0
T0=$(date +%s)
for s in $SOURCES; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || FAILED=1; done
  compile "$s" &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || FAILED=1; done
echo "compiled $(echo $SOURCES | wc -w) sources in $(( $(date +%s) - T0 )) s"
[ $FAILED -eq 0 ] || { echo "build failed"; exit 3; }
TORCH_LIBS=(-ltorch -ltorch_cpu -lc10)
ls "$TP/lib"/libtorch_cuda.so >/dev/null 2>&1 && TORCH_LIBS+=(-ltorch_cuda -lc10_cuda)
g++ "$WORK"/obj/*.o -o "$WORK/amp_device_check" "${LIBS[@]}" -Wl,--no-as-needed "${TORCH_LIBS[@]}" \
  -Wl,--as-needed -L"$DEPS/lib" -Wl,-rpath,"$DEPS/lib" -ljpeg -lpng16 -lpthread -ldl \
  2>"$WORK/link.log" || { cat "$WORK/link.log"; exit 3; }
gzip -dc "$DEPS/t10k-images-idx3-ubyte.gz" > "$WORK/images.idx"
gzip -dc "$DEPS/t10k-labels-idx1-ubyte.gz" > "$WORK/labels.idx"
mkdir -p "$WORK/out"
FASHION_MNIST_DIR=$DEPS $PY "$SRC/scripts/make_fashion_mnist_folder.py" --out "$WORK/fashion-mnist" ||
  exit 3
"$WORK/amp_device_check" --device "$DEVICE" --checkpoint "$SRC/demo/fashion_mnist_resnet18.pth.tar" \
  --images "$WORK/images.idx" --labels "$WORK/labels.idx" --bench-iters "${BENCH_ITERS:-30}" \
  --train-data "$WORK/fashion-mnist" --out "$WORK/out" ${LIMIT:+--limit $LIMIT} ${ARCHS:+--archs $ARCHS} 2>&1 | grep -v '^\[' | tee "$OUT/check.log"
RC=${PIPESTATUS[0]}
cp "$WORK/out/summary.json" "$OUT/" 2>/dev/null
FASHION_MNIST_DIR=$DEPS $PY "$SRC/tools/device/amp_cuda_reference.py" --src "$SRC" --device "$DEVICE" \
  --work "$WORK/out" --out "$OUT/parity.json" --bench-iters "${BENCH_ITERS:-30}" ${LIMIT:+--limit $LIMIT} \
  2>&1 | tee "$OUT/reference.log"
RC2=${PIPESTATUS[0]}
[ $RC -ne 0 ] && exit $RC
exit $RC2
