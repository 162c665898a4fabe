// `ptinfer serve`: an HTTP server for classifiers with TorchServe's inference API and KServe's
// v2 REST protocol, dynamic batching per model (batcher.h) and Prometheus metrics.
//
// Routes:
//   GET  /ping                          {"status": "Healthy"}
//   POST|PUT /predictions/{model}       image as the body or a multipart field ->
//                                       top-5 {label: probability}, best first (TorchServe's
//                                       image_classifier)
//   GET  /v2/health/live, /v2/health/ready, /v2, /v2/models/{m}, /v2/models/{m}/ready
//   POST /v2/models/{m}/infer           see kserve.h
//   GET  /metrics                       Prometheus text (prometheus.h)
// Errors: 400 malformed body (with the reason), 404 unknown model or path, 405 wrong method
// (with Allow), 413 body over the limit, 503 queue full or timed out (with Retry-After),
// 500 a bug. TorchServe routes answer {"code", "type", "message"}, the others {"error"}.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "serve/batcher.h"

namespace ptinfer::serve {

// One --model NAME=CHECKPOINT[,arch=ARCH,labels=FILE].
struct ModelSpec {
  std::string name;        // [A-Za-z0-9_.-]+, the URL and metrics label
  std::string checkpoint;  // torch.save file
  std::string arch;        // registry name
  std::string labels;      // index_to_name.json or text file; "" for the checkpoint's classes
};

// Parses a --model value; `default_arch` when it names none. Throws Error(kInvalidArgument)
// quoting the value for a missing '=', an empty or invalid name or checkpoint, or an unknown
// key.
ModelSpec parse_model_spec(const std::string& text, const std::string& default_arch);

struct ServeOptions {
  std::string host = "127.0.0.1";            // listen address
  int port = 8080;                           // 0: any free port (printed at start)
  int http_threads = 32;                     // request threads (decode/preprocess run on them)
  size_t max_body_bytes = size_t{64} << 20;  // larger bodies get 413
  int read_timeout_s = 5;                    // a client silent this long is disconnected
  int write_timeout_s = 5;                   // a client not reading this long is disconnected
  std::vector<ModelSpec> models;             // at least one; names unique
  std::string device = "cpu";                // resolved device string (engine/device.h)
  data::PreprocessOptions preprocess;        // for image inputs, every model
  BatcherOptions batching;                   // every model
};

// Loads and warms up every model, listens, prints "ptinfer serve: listening on
// http://HOST:PORT" to stdout, and serves until SIGTERM or SIGINT; then stops accepting,
// answers the requests already accepted and returns 0. Throws Error for a model that does not
// load, duplicate names, or an address that cannot be bound.
int run_server(const ServeOptions& options);

}  // namespace ptinfer::serve
