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
// 500 a bug; 503 also while the model is still loading. TorchServe routes answer {"code",
// "type", "message"}, the others {"error"}. Connections and threads are bounded
// (connection_limit.h).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "serve/model_spec.h"

namespace ptinfer::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";            // listen address
  int port = 8080;                           // 0: any free port (printed at start)
  int http_threads = 32;                     // request threads (decode/preprocess run on them)
  int max_connections = 256;                 // connections served or waiting for a thread
                                             // (>= http_threads); more wait to be accepted
  size_t max_body_bytes = size_t{64} << 20;  // larger bodies get 413
  int read_timeout_s = 5;                    // a client silent this long is disconnected
  int write_timeout_s = 5;                   // a client not reading this long is disconnected
  std::vector<ModelSpec> models;             // at least one; names unique
  std::string device = "cpu";                // resolved device string (engine/device.h)
};

// Checks every model spec (model_store.h's check_model_spec), binds, prints "ptinfer serve:
// listening on http://HOST:PORT" to stdout, then loads the models one by one, each warmed up at
// every batch size its batcher can form (1 .. min(max_batch_size, queue_size)), and prints
// "ptinfer serve: ready" once all are. Until a model is ready its routes answer 503 and its
// /v2/models/{m}/ready {"ready": false} (503); /ping and /v2/health/ready answer 503 until every
// model is. Serves until SIGTERM or SIGINT; then stops accepting, answers the requests already
// accepted and returns 0. Throws Error for an invalid spec or duplicate names (before binding),
// an address that cannot be bound, or a model that does not load (the server then stops).
int run_server(const ServeOptions& options);

}  // namespace ptinfer::serve
