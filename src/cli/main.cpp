// ptinfer's entry point: parse flags, read the environment, set up logging, threads and malloc,
// run the subcommand, and turn errors into a message on stderr and an exit code
// (common/error.h: 2 for invalid arguments, 1 otherwise).
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "common/error.h"
#include "engine/cpu_setup.h"
#include "runtime/logging.h"

namespace {

int fail(const std::string& message, int code) {
  std::cerr << "ERROR: " << message << std::endl;
  if (auto logger = spdlog::default_logger()) {
    logger->error("{}", message);
    logger->flush();
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ptinfer;
  engine::tune_malloc();
  runtime::init_console_logging();

  CLI::App app{"ptinfer: PyTorch image classifiers in C++, with PyTorch's numbers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ptinfer 0.1.0");
  std::vector<cli::CommandRunner> commands = {cli::add_validate_command(app),
                                              cli::add_predict_command(app),
                                              cli::add_inspect_command(app),
                                              cli::add_convert_command(app),
                                              cli::add_serve_command(app),
                                              cli::add_bench_command(app),
                                              cli::add_finetune_command(app),
                                              cli::add_models_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cout << app.help() << std::flush;
    return fail(e.what(), 2);
  }

  try {
    runtime::RuntimeConfig config = runtime::read_runtime_config(runtime::process_environment());
    std::string log_path = runtime::init_logging(config);
    int threads = engine::configure_threads(config.num_threads);
    std::string blas = engine::loaded_blas_library();
    spdlog::info("ptinfer started; log {}; {} intra-op threads; BLAS {}", log_path, threads,
                 blas.empty() ? "not loaded" : blas);
    if (blas.find("openblas") == std::string::npos && !blas.empty()) {
      spdlog::warn("BLAS is {}, not OpenBLAS: fp32 linear layers will be slow", blas);
    }
    for (auto& run : commands) {
      int code = run(config);
      if (code >= 0) return code;
    }
    return fail("no subcommand", 2);
  } catch (const Error& e) {
    return fail(e.what(), exit_code_for(e.kind()));
  } catch (const c10::Error& e) {
    return fail(e.what_without_backtrace(), 1);
  } catch (const std::exception& e) {
    return fail(e.what(), 1);
  }
}
