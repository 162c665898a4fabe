#include "serve/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "app/labels.h"
#include "common/error.h"
#include "data/image_decode.h"
#include "engine/engine.h"
#include "metrics/topk.h"
#include "serve/connection_limit.h"
#include "serve/kserve.h"
#include "serve/model_store.h"
#include "serve/prometheus.h"

namespace ptinfer::serve {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Set by the signal handler, polled by the watcher thread (a handler may only touch this).
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

int http_status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kCorruptData:
    case ErrorKind::kUnsupported:
      return 400;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kOverloaded:
      return 503;
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

// One model. `spec` is fixed before serving; the loader thread fills the rest and then sets
// `ready` (release); request threads read the rest only after seeing `ready` (acquire).
struct ServedModel {
  ModelSpec spec;
  std::unique_ptr<engine::Engine> engine;
  std::vector<std::string> labels;  // one per class
  std::unique_ptr<Batcher> batcher;
  std::atomic<bool> ready{false};
};

// The TaskQueue httplib owns (and deletes after listening) forwards to the server's
// BoundedTaskQueue, which lives as long as the server so that stop_limiting() is always safe.
class TaskQueueRef : public httplib::TaskQueue {
 public:
  explicit TaskQueueRef(BoundedTaskQueue* queue) : queue_(queue) {}
  void enqueue(std::function<void()> fn) override { queue_->enqueue(std::move(fn)); }
  void shutdown() override { queue_->shutdown(); }

 private:
  BoundedTaskQueue* queue_;
};

// Which API a route belongs to decides the error body's form.
enum class Api { kTorchServe, kKServe };

void set_error(httplib::Response& res, Api api, int status, const std::string& message,
               const char* type) {
  res.status = status;
  json body = api == Api::kTorchServe ? json{{"code", status}, {"type", type}, {"message", message}}
                                      : json{{"error", message}};
  if (status == 503) res.set_header("Retry-After", "1");
  res.set_content(body.dump(), "application/json");
}

void set_error(httplib::Response& res, Api api, const Error& e) {
  set_error(res, api, http_status_for(e.kind()), e.what(), error_kind_name(e.kind()));
}

class Server {
 public:
  explicit Server(const ServeOptions& options) : options_(options) {
    if (options.models.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "give at least one model to serve (--model or --model-store)");
    }
    for (const ModelSpec& spec : options.models) {
      if (models_.count(spec.name)) {
        throw Error(ErrorKind::kInvalidArgument, "model name '" + spec.name + "' given twice (" +
                                                     models_[spec.name].spec.source + ", " +
                                                     spec.source + ")");
      }
      check_model_spec(spec);
      models_[spec.name].spec = spec;
      metrics_.set_model_ready(spec.name, false);
    }
    // Each request thread sets up LibTorch's per-thread state before it serves anything: the
    // first parallel op of a thread calls at::init_num_threads, which in LibTorch 1.13 recreates
    // the process-wide pthreadpool, whose new worker then spins for milliseconds on a core the
    // model needs (5% of the CPU under load when 160 threads did it one by one while serving).
    pool_ = std::make_unique<BoundedTaskQueue>(static_cast<size_t>(options.http_threads),
                                               static_cast<size_t>(options.max_connections),
                                               [] { at::internal::lazy_init_num_threads(); });
  }

  int run() {
    configure_http();
    int port = options_.port;
    if (port == 0) {
      port = http_.bind_to_any_port(options_.host);
      if (port < 0) port = 0;
    } else if (!http_.bind_to_port(options_.host, port)) {
      port = 0;
    }
    if (port <= 0) {
      throw Error(ErrorKind::kInvalidArgument,
                  "cannot listen on " + options_.host + ":" + std::to_string(options_.port));
    }
    g_stop_signal = 0;
    auto old_term = std::signal(SIGTERM, on_stop_signal);
    auto old_int = std::signal(SIGINT, on_stop_signal);
    std::atomic<bool> done{false};       // stop serving (a model failed to load, or exiting)
    std::atomic<bool> listened{false};   // listen_after_bind has returned
    // httplib's stop() is not async-signal-safe, so a thread turns the flag into the call.
    std::thread watcher([&] {
      while (!done && !g_stop_signal) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (g_stop_signal) {
        spdlog::info("signal {}: stopping; answering the requests already accepted",
                     static_cast<int>(g_stop_signal));
      }
      // stop() does nothing before the listen loop has started, so repeat until it returned.
      while (!listened) {
        pool_->stop_limiting();  // the accept thread must not wait for a free slot now
        http_.stop();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    // Returns after stop(), once the pool has finished every accepted connection.
    std::thread listener([&] {
      http_.listen_after_bind();
      listened = true;
    });
    spdlog::info("ptinfer serve: listening on http://{}:{} ({} HTTP threads, at most {} "
                 "connections)",
                 options_.host, port, options_.http_threads, options_.max_connections);
    std::cout << "ptinfer serve: listening on http://" << options_.host << ":" << port << std::endl;

    // Load the models while the health routes already answer (503 until ready).
    std::exception_ptr load_error;
    const auto load_start = Clock::now();
    for (const ModelSpec& spec : options_.models) {
      if (g_stop_signal) break;
      try {
        load_model(models_.at(spec.name));
      } catch (...) {
        load_error = std::current_exception();
        break;
      }
    }
    if (!load_error && !g_stop_signal) {
      spdlog::info("ptinfer serve: ready, {} model(s) loaded and warmed up in {:.0f} ms",
                   models_.size(), 1000 * seconds_since(load_start));
      std::cout << "ptinfer serve: ready" << std::endl;
    }
    if (load_error) done = true;  // stop serving: a model the user asked for is missing
    listener.join();
    done = true;
    watcher.join();
    for (auto& [name, m] : models_) {
      if (m.batcher) m.batcher->stop();
    }
    std::signal(SIGTERM, old_term);
    std::signal(SIGINT, old_int);
    if (load_error) std::rethrow_exception(load_error);
    spdlog::info("ptinfer serve: stopped");
    std::cout << "ptinfer serve: stopped" << std::endl;
    return 0;
  }

 private:
  void load_model(ServedModel& m) {
    const ModelSpec& spec = m.spec;
    const auto start = Clock::now();
    // Labels first: reading them is cheap and fails early.
    std::vector<std::string> labels;
    if (!spec.labels.empty()) labels = app::read_labels(spec.labels);
    engine::EngineOptions eo;
    eo.arch = spec.arch;
    eo.checkpoint = spec.checkpoint;
    eo.checkpoint_key = spec.checkpoint_key;
    eo.device = options_.device;
    eo.amp = spec.amp;
    m.engine = std::make_unique<engine::Engine>(eo);
    // The crop follows an input size the weights fix (a ViT trained at 384): requests are
    // preprocessed with m.spec.preprocess from here on.
    const app::PreprocessingOverrides& given = spec.preprocessing.overrides;
    m.spec.preprocess = data::fit_input_size(spec.preprocess, m.engine->info().input_size,
                                             given.crop_size.has_value(),
                                             given.resize_size.has_value(),
                                             m.engine->info().weights);
    const int64_t classes = m.engine->info().num_classes;
    if (!spec.labels.empty()) {
      if (static_cast<int64_t>(labels.size()) != classes) {
        throw Error(ErrorKind::kInvalidArgument,
                    spec.source + ": labels '" + spec.labels + "' name " +
                        std::to_string(labels.size()) + " classes but the model has " +
                        std::to_string(classes));
      }
      m.labels = std::move(labels);
    } else if (static_cast<int64_t>(m.engine->info().class_names.size()) == classes) {
      m.labels = m.engine->info().class_names;
    } else {
      for (int64_t i = 0; i < classes; ++i) m.labels.push_back(std::to_string(i));
    }
    const double load_seconds = seconds_since(start);

    // Warm up at every batch size the batcher can form, so that no request pays for the
    // allocator growing or oneDNN / OpenBLAS choosing kernels for a new shape.
    const int64_t crop = spec.preprocess.crop_size;
    const int largest = std::min(spec.batching.max_batch_size, spec.batching.queue_size);
    const auto warm_start = Clock::now();
    for (int n = 1; n <= largest; ++n) m.engine->run(torch::zeros({n, 3, crop, crop}));
    const double warm_seconds = seconds_since(warm_start);
    metrics_.observe_warmup(spec.name, largest, warm_seconds);

    engine::Engine* engine = m.engine.get();
    const std::string name = spec.name;
    m.batcher = std::make_unique<Batcher>(
        name, [engine](const torch::Tensor& batch) { return engine->run(batch); }, spec.batching,
        [this, name](const BatchStats& s) { metrics_.observe_batch(name, s); });
    m.ready.store(true, std::memory_order_release);
    metrics_.set_model_ready(name, true);
    spdlog::info(
        "model '{}' ({}): {} from '{}', {} classes, preprocessing {} ({}), loaded in {:.0f} ms, "
        "warmed up at batch sizes 1..{} in {:.0f} ms, ready",
        name, spec.source, spec.arch, spec.checkpoint, classes,
        app::describe_preprocessing(spec.preprocess, true),
        app::describe_choice(spec.preprocessing), 1000 * load_seconds, largest,
        1000 * warm_seconds);
  }

  bool all_ready() const {
    for (const auto& [name, m] : models_) {
      if (!m.ready.load(std::memory_order_acquire)) return false;
    }
    return true;
  }

  ServedModel* find(const std::string& name) {
    auto it = models_.find(name);
    return it == models_.end() ? nullptr : &it->second;
  }

  // Throws Error(kOverloaded) (503) while `m` is loading.
  static void require_ready(const ServedModel& m) {
    if (!m.ready.load(std::memory_order_acquire)) {
      throw Error(ErrorKind::kOverloaded, "model '" + m.spec.name + "' is loading");
    }
  }

  // The image as a deferred sample: decode + preprocess run on the batch thread, writing straight
  // into the request's row of the batch (see serve::Sample). The bytes are copied: a request
  // that times out returns while its sample may still be filled.
  static Sample image_sample(const ServedModel& m, const std::string& bytes,
                             const std::string& what) {
    if (bytes.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  what + " is empty: send the image as the body or as a multipart field");
    }
    const int64_t crop = m.spec.preprocess.crop_size;
    auto data = std::make_shared<const std::string>(bytes);
    return Sample::deferred(
        {3, crop, crop}, torch::kFloat32,
        [data, what, options = m.spec.preprocess](torch::Tensor& row) {
          data::Image image = data::decode_image(reinterpret_cast<const uint8_t*>(data->data()),
                                                 data->size(), what);
          data::preprocess_image(image, options, row.data_ptr<float>());
        });
  }

  void predictions(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    ServedModel* m = find(name);
    if (!m)
      return set_error(res, Api::kTorchServe, 404, "model '" + name + "' not found", "not found");
    const auto start = Clock::now();
    try {
      require_ready(*m);
      Sample input;
      if (req.is_multipart_form_data()) {
        // TorchServe reads the field "data" or "body"; any single file field is accepted.
        if (req.files.empty()) {
          throw Error(ErrorKind::kInvalidArgument, "multipart request holds no field");
        }
        auto it = req.files.find("data");
        if (it == req.files.end()) it = req.files.find("body");
        if (it == req.files.end()) it = req.files.begin();
        input = image_sample(*m, it->second.content, "multipart field '" + it->first + "'");
      } else {
        input = image_sample(*m, req.body, "request body");
      }
      torch::Tensor logits = m->batcher->infer_samples({std::move(input)}).at(0).unsqueeze(0);
      metrics::TopK top = metrics::top_k(logits, 5);
      nlohmann::ordered_json body = nlohmann::ordered_json::object();
      for (size_t k = 0; k < top.indices[0].size(); ++k) {
        body[m->labels.at(top.indices[0][k])] = top.scores[0][k];
      }
      res.status = 200;  // httplib leaves -1 until the handler returns; metrics read it now
      res.set_content(body.dump(), "application/json");
    } catch (const Error& e) {
      set_error(res, Api::kTorchServe, e);
    } catch (const std::exception& e) {
      set_error(res, Api::kTorchServe, 500, e.what(), "internal error");
    }
    metrics_.observe_request(name, res.status, seconds_since(start));
  }

  void infer(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    ServedModel* m = find(name);
    if (!m) return set_error(res, Api::kKServe, 404, "model '" + name + "' not found", "");
    const auto start = Clock::now();
    try {
      require_ready(*m);
      InferRequest r = parse_infer_request(req.body);
      std::vector<Sample> rows;
      if (r.is_images) {
        for (size_t i = 0; i < r.images.size(); ++i) {
          rows.push_back(
              image_sample(*m, r.images[i], "inputs[0].data[" + std::to_string(i) + "]"));
        }
      } else {
        for (int64_t i = 0; i < r.tensor.size(0); ++i) rows.push_back(Sample::ready(r.tensor[i]));
      }
      // The samples join the queue one by one, so that they can share batches with other
      // requests' samples.
      std::vector<torch::Tensor> outputs = m->batcher->infer_samples(std::move(rows));
      json body = infer_response(name, r, torch::stack(outputs), m->labels);
      res.status = 200;
      res.set_content(body.dump(), "application/json");
    } catch (const Error& e) {
      set_error(res, Api::kKServe, e);
    } catch (const std::exception& e) {
      set_error(res, Api::kKServe, 500, e.what(), "");
    }
    metrics_.observe_request(name, res.status, seconds_since(start));
  }

  void model_metadata(const httplib::Request& req, httplib::Response& res, bool ready_only) {
    const std::string name = req.matches[1];
    ServedModel* m = find(name);
    if (!m) return set_error(res, Api::kKServe, 404, "model '" + name + "' not found", "");
    const bool ready = m->ready.load(std::memory_order_acquire);
    if (ready_only) {
      res.status = ready ? 200 : 503;
      return res.set_content(json{{"name", name}, {"ready", ready}}.dump(), "application/json");
    }
    if (!ready) {
      return set_error(res, Api::kKServe, 503, "model '" + name + "' is loading", "");
    }
    const int64_t crop = m->spec.preprocess.crop_size;
    json j = {
        {"name", name},
        {"versions", {"1"}},
        {"platform", "ptinfer_libtorch"},
        {"inputs", {{{"name", "input__0"}, {"datatype", "FP32"}, {"shape", {-1, 3, crop, crop}}}}},
        {"outputs",
         {{{"name", "output__0"},
           {"datatype", "FP32"},
           {"shape", {-1, m->engine->info().num_classes}}}}}};
    res.set_content(j.dump(), "application/json");
  }

  void configure_http() {
    http_.new_task_queue = [this] { return new TaskQueueRef(pool_.get()); };
    http_.set_payload_max_length(options_.max_body_bytes);
    http_.set_read_timeout(options_.read_timeout_s, 0);
    http_.set_write_timeout(options_.write_timeout_s, 0);
    // An idle keep-alive connection holds a pool thread: release it as soon as a silent client.
    http_.set_keep_alive_timeout(options_.read_timeout_s);
    // Responses go out as written: with Nagle's algorithm a response's second segment waited for
    // the client's delayed ACK (~40 ms per request at concurrency 1).
    http_.set_tcp_nodelay(true);

    // 405 for a known path with the wrong method (httplib alone answers 404).
    struct Route {
      std::regex path;
      std::vector<std::string> methods;
    };
    auto routes = std::make_shared<std::vector<Route>>(std::vector<Route>{
        {std::regex("/ping"), {"GET"}},
        {std::regex("/metrics"), {"GET"}},
        {std::regex("/predictions/[^/]+"), {"POST", "PUT"}},
        {std::regex("/v2(/health/(live|ready))?"), {"GET"}},
        {std::regex("/v2/models/[^/]+(/ready)?"), {"GET"}},
        {std::regex("/v2/models/[^/]+/infer"), {"POST"}},
    });
    http_.set_pre_routing_handler([routes](const httplib::Request& req, httplib::Response& res) {
      for (const Route& r : *routes) {
        if (!std::regex_match(req.path, r.path)) continue;
        for (const auto& m : r.methods) {
          if (req.method == m) return httplib::Server::HandlerResponse::Unhandled;
        }
        std::string allow;
        for (const auto& m : r.methods) allow += (allow.empty() ? "" : ", ") + m;
        res.set_header("Allow", allow);
        Api api = req.path.rfind("/v2", 0) == 0 ? Api::kKServe : Api::kTorchServe;
        set_error(
            res, api, 405,
            "method " + req.method + " not allowed on " + req.path + " (allowed: " + allow + ")",
            "method not allowed");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // Statuses httplib sets itself (404 unknown path, 413 body too large, 400 bad request line)
    // get a JSON body too.
    http_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      Api api = req.path.rfind("/v2", 0) == 0 ? Api::kKServe : Api::kTorchServe;
      std::string message = res.status == 413
                                ? "request body over the limit of " +
                                      std::to_string(options_.max_body_bytes) + " bytes"
                            : res.status == 404 ? "no route for " + req.path
                                                : "malformed HTTP request (a body needs "
                                                  "Content-Length or chunked encoding)";
      set_error(res, api, res.status, message, res.status == 413 ? "payload too large" : "error");
    });

    auto json_reply = [](const json& j) {
      return [body = j.dump()](const httplib::Request&, httplib::Response& res) {
        res.set_content(body, "application/json");
      };
    };
    // Healthy / ready once every model is loaded and warmed up; 503 before.
    http_.Get("/ping", [this](const httplib::Request&, httplib::Response& res) {
      const bool ready = all_ready();
      res.status = ready ? 200 : 503;
      res.set_content(json{{"status", ready ? "Healthy" : "Unhealthy"}}.dump(),
                      "application/json");
    });
    http_.Get("/v2/health/live", json_reply({{"live", true}}));
    http_.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& res) {
      const bool ready = all_ready();
      res.status = ready ? 200 : 503;
      res.set_content(json{{"ready", ready}}.dump(), "application/json");
    });
    http_.Get("/v2",
              json_reply(
                  {{"name", "ptinfer"}, {"version", "0.1.0"}, {"extensions", {"classification"}}}));
    http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::map<std::string, size_t> depths;
      for (auto& [name, m] : models_) {
        if (m.ready.load(std::memory_order_acquire)) depths[name] = m.batcher->queue_depth();
      }
      res.set_content(metrics_.render(depths), "text/plain; version=0.0.4");
    });
    auto predict = [this](const httplib::Request& req, httplib::Response& res) {
      predictions(req, res);
    };
    http_.Post("/predictions/([^/]+)", predict);
    http_.Put("/predictions/([^/]+)", predict);
    http_.Get("/v2/models/([^/]+)", [this](const httplib::Request& req, httplib::Response& res) {
      model_metadata(req, res, false);
    });
    http_.Get("/v2/models/([^/]+)/ready",
              [this](const httplib::Request& req, httplib::Response& res) {
                model_metadata(req, res, true);
              });
    http_.Post("/v2/models/([^/]+)/infer",
               [this](const httplib::Request& req, httplib::Response& res) { infer(req, res); });
  }

  static double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  const ServeOptions options_;
  std::map<std::string, ServedModel> models_;  // keys fixed after construction
  ServeMetrics metrics_;                       // thread-safe
  std::unique_ptr<BoundedTaskQueue> pool_;     // outlives http_'s listening
  httplib::Server http_;
};

}  // namespace

int run_server(const ServeOptions& options) {
  Server server(options);
  return server.run();
}

}  // namespace ptinfer::serve
