// silicon_peak: the multiply-add throughput this CPU actually delivers, the ceiling every
// img/s figure in bench/ is read against (bench/anchors.py runs it in the same run).
//
// Usage: silicon_peak [--threads N] [--seconds S] [--json]
//   Runs each kernel this CPU has for S seconds (default 1) on 1 thread, then on N threads at
//   once (default: the cores this process may use), and prints GFLOP/s per kernel and thread
//   count; with --json, one JSON object on the last line instead of the table.
//   Exit status 2 on a bad flag or value, naming it.
//
// Kernels (each thread runs 12 independent accumulator chains, held in registers, so the loop is
// bound by the FMA units' throughput, not by latency or memory):
//   fp32_fma512  vfmadd on 16 floats (AVX-512F): 32 FLOP per instruction
//   fp32_fma256  vfmadd on 8 floats (AVX2 + FMA): 16 FLOP per instruction
//   bf16_dot512  vdpbf16ps, 32 bf16 pairs into 16 floats (AVX-512 BF16): 64 FLOP per instruction
// A CPU that issues 512-bit operations as two 256-bit halves (AMD Zen 4) shows the same
// fp32 GFLOP/s for the 512- and 256-bit kernels.
//
// Written here rather than taken from a package: no Debian package measures these three peaks
// (oneDNN's benchdnn is not packaged).
#include <immintrin.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Instructions per inner-loop pass: 12 chains x kUnroll.
constexpr long kUnroll = 64;
constexpr long kPerPass = 12 * kUnroll;

std::atomic<float> g_sink{0.f};  // keeps the accumulators' values alive

// Chain i's starting value, read at run time: with equal or known starting values the compiler
// would fold the 12 chains into one.
volatile float g_start_base = 1.f;
float start(int chain) { return g_start_base + 0.125f * static_cast<float>(chain); }

#define PTINFER_TWELVE(OP) \
  OP(a0);                  \
  OP(a1);                  \
  OP(a2);                  \
  OP(a3);                  \
  OP(a4);                  \
  OP(a5);                  \
  OP(a6);                  \
  OP(a7);                  \
  OP(a8);                  \
  OP(a9);                  \
  OP(a10);                 \
  OP(a11)

// Two lanes of `s` (enough to depend on every accumulator; _mm512_reduce_add_ps would do, but
// GCC 12's header warns inside it).
__attribute__((target("avx512f"))) float two_lanes(__m512 s) {
  float lanes[16];
  _mm512_storeu_ps(lanes, s);
  return lanes[0] + lanes[15];
}

// The body every kernel shares: 12 chains of vector type VEC, each started by SET1(start(i)),
// `passes` x kUnroll steps of STEP on each, then their sum (folded with ADD) in `sum`.
#define PTINFER_RUN_CHAINS(VEC, SET1, ADD, STEP, passes, sum)                                 \
  VEC a0 = SET1(start(0)), a1 = SET1(start(1)), a2 = SET1(start(2)), a3 = SET1(start(3)),     \
      a4 = SET1(start(4)), a5 = SET1(start(5)), a6 = SET1(start(6)), a7 = SET1(start(7)),     \
      a8 = SET1(start(8)), a9 = SET1(start(9)), a10 = SET1(start(10)), a11 = SET1(start(11)); \
  for (long p = 0; p < (passes); ++p) {                                                       \
    for (long u = 0; u < kUnroll; ++u) {                                                      \
      PTINFER_TWELVE(STEP);                                                                   \
    }                                                                                         \
  }                                                                                           \
  const VEC sum = ADD(ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7))),      \
                      ADD(ADD(a8, a9), ADD(a10, a11)))

// Each kernel runs `passes` passes and returns a value depending on every accumulator.
__attribute__((target("avx512f"))) float fma512(long passes) {
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
#define PTINFER_FMA512(a) a = _mm512_fmadd_ps(a, b, c)
  PTINFER_RUN_CHAINS(__m512, _mm512_set1_ps, _mm512_add_ps, PTINFER_FMA512, passes, sum);
  return two_lanes(sum);
}

__attribute__((target("avx2,fma"))) float fma256(long passes) {
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
#define PTINFER_FMA256(a) a = _mm256_fmadd_ps(a, b, c)
  PTINFER_RUN_CHAINS(__m256, _mm256_set1_ps, _mm256_add_ps, PTINFER_FMA256, passes, sum);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0] + lanes[7];
}

__attribute__((target("avx512f,avx512bf16"))) float dot_bf16_512(long passes) {
  // 0x3f80 is bf16 1.0: each instruction adds 32 products of 1 x 1 to its 16 floats.
  const __m512bh one = (__m512bh)_mm512_set1_epi16(0x3f80);
#define PTINFER_DOT(a) a = _mm512_dpbf16_ps(a, one, one)
  PTINFER_RUN_CHAINS(__m512, _mm512_set1_ps, _mm512_add_ps, PTINFER_DOT, passes, sum);
  return two_lanes(sum);
}

struct Kernel {
  const char* name;
  float (*run)(long passes);
  double flop_per_instruction;
  bool available;
};

std::vector<Kernel> kernels() {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  return {
      {"fp32_fma512", fma512, 32, avx512},
      {"fp32_fma256", fma256, 16, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
      {"bf16_dot512", dot_bf16_512, 64, avx512 && __builtin_cpu_supports("avx512bf16")},
  };
}

// GFLOP/s of `k` on `threads` threads started together, each running for about `seconds`.
double measure(const Kernel& k, int threads, double seconds) {
  // Passes per timing check: ~1 ms at a few GHz.
  const long chunk = std::max(1L, 4000000L / kPerPass);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<long> passes(static_cast<size_t>(threads), 0);
  std::vector<double> elapsed(static_cast<size_t>(threads), 0.0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      const auto start = Clock::now();
      long done = 0;
      float sink = 0.f;
      double spent = 0.0;
      do {
        sink += k.run(chunk);
        done += chunk;
        spent = std::chrono::duration<double>(Clock::now() - start).count();
      } while (spent < seconds);
      g_sink.store(g_sink.load() + sink);
      passes[static_cast<size_t>(t)] = done;
      elapsed[static_cast<size_t>(t)] = spent;
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  go.store(true);
  for (auto& th : pool) th.join();
  double gflops = 0.0;
  for (int t = 0; t < threads; ++t) {
    const double instructions = static_cast<double>(passes[static_cast<size_t>(t)]) * kPerPass;
    gflops += instructions * k.flop_per_instruction / elapsed[static_cast<size_t>(t)] / 1e9;
  }
  return gflops;
}

int usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr,
               "silicon_peak: %s\nusage: silicon_peak [--threads N] [--seconds S] [--json]\n",
               what.c_str());
  std::exit(2);
}

// Parses `text` (the value of `flag`) as a number in [lo, hi]; exits 2 naming the flag if not.
double parse_number(const char* flag, const char* text, double lo, double hi) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v >= lo && v <= hi)) {
    usage_error(std::string(flag) + ": '" + text + "' is not a number in [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = usable_cores();
  double seconds = 1.0;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--threads" || arg == "--seconds") {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      if (arg == "--threads") {
        const double v = parse_number("--threads", argv[++i], 1, 1024);
        if (v != static_cast<int>(v))
          usage_error("--threads: '" + std::string(argv[i]) + "' is not a whole number");
        threads = static_cast<int>(v);
      } else {
        seconds = parse_number("--seconds", argv[++i], 0.001, 600);
      }
    } else {
      usage_error("unknown argument '" + arg + "'");
    }
  }

  std::vector<int> counts = {1};
  if (threads > 1) counts.push_back(threads);
  std::string doc = "{\"threads\": " + std::to_string(threads) + ", \"gflops\": {";
  bool first_kernel = true;
  if (!json)
    std::printf("%-12s %8s %12s %22s\n", "kernel", "threads", "GFLOP/s", "GFLOP/s per thread");
  for (const Kernel& k : kernels()) {
    if (!k.available) {
      if (!json) std::printf("%-12s (this CPU lacks it)\n", k.name);
      continue;
    }
    doc += std::string(first_kernel ? "" : ", ") + "\"" + k.name + "\": {";
    first_kernel = false;
    for (size_t c = 0; c < counts.size(); ++c) {
      const double g = measure(k, counts[c], seconds);
      if (!json) std::printf("%-12s %8d %12.1f %22.1f\n", k.name, counts[c], g, g / counts[c]);
      char cell[64];
      std::snprintf(cell, sizeof(cell), "%s\"%d\": %.2f", c ? ", " : "", counts[c], g);
      doc += cell;
    }
    doc += "}";
  }
  doc += "}}";
  if (json) std::printf("%s\n", doc.c_str());
  return 0;
}
