#include "fastpath/fast_path.h"

#include <cstdlib>

#include "common/error.h"
#include "fastpath/folded_resnet.h"
#include "fastpath/graph/passes.h"
#include "fastpath/graph_model.h"
#include "fastpath/onednn_resnet.h"
#include "fastpath/torch_resnet.h"
#include "models/resnet.h"

namespace ptinfer::fastpath {

Kernels parse_kernels(const std::string& text, const std::string& source) {
  if (text == "onednn") return Kernels::kOneDnn;
  if (text == "torch") return Kernels::kTorch;
  if (text == "graph") return Kernels::kGraph;
  throw Error(ErrorKind::kInvalidArgument,
              source + " must be 'onednn', 'torch' or 'graph', got '" + text + "'");
}

std::string to_string(Kernels kernels) {
  switch (kernels) {
    case Kernels::kOneDnn: return "onednn";
    case Kernels::kTorch: return "torch";
    case Kernels::kGraph: return "graph";
  }
  return "?";
}

Kernels kernels_from_env() {
  const char* v = std::getenv("PTINFER_FAST_PATH_KERNELS");
  if (v == nullptr || *v == '\0') return Kernels::kOneDnn;
  return parse_kernels(v, "PTINFER_FAST_PATH_KERNELS");
}

bool winograd_from_env() {
  const char* v = std::getenv("PTINFER_FAST_PATH_WINOGRAD");
  if (v == nullptr || *v == '\0' || std::string(v) == "1") return true;
  if (std::string(v) == "0") return false;
  throw Error(ErrorKind::kInvalidArgument,
              std::string("PTINFER_FAST_PATH_WINOGRAD must be '0' or '1', got '") + v + "'");
}

int64_t max_batch_from_env() {
  const char* v = std::getenv("PTINFER_FAST_PATH_MAX_BATCH");
  if (v == nullptr || *v == '\0') return kDefaultMaxBatch;
  const std::string text(v);
  // Digits only (no sign, no spaces), at most 9 of them: no overflow.
  if (text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument,
                "PTINFER_FAST_PATH_MAX_BATCH must be a whole number >= 0 (0: no limit), got '" +
                    text + "'");
  }
  return std::stoll(text);
}

namespace {

bool takes_resnet_runner(const models::ImageClassifier& model, const FastPathOptions& options) {
  return options.kernels != Kernels::kGraph &&
         dynamic_cast<const models::ResNet*>(&model) != nullptr;
}

}  // namespace

std::string unsupported_reason(const models::ImageClassifier& model,
                               const FastPathOptions& options) {
  if (!options.device.is_cpu()) return "device " + options.device.str() + " is not the CPU";
  if (options.amp.level == amp::OptLevel::kO1) return "--amp O1 (autocast) keeps the plain module";
  if (options.amp.level != amp::OptLevel::kO0 && options.amp.dtype != amp::LowDtype::kBFloat16) {
    return "fp16 has no CPU kernels";
  }
  return "";
}

std::string fast_path_form(const models::ImageClassifier& model, const FastPathOptions& options) {
  if (!unsupported_reason(model, options).empty()) return "";
  if (!takes_resnet_runner(model, options)) return "graph";
  return "resnet runner (" + to_string(options.kernels) + ")";
}

std::shared_ptr<models::ImageClassifier> build(std::shared_ptr<models::ImageClassifier> model,
                                               const FastPathOptions& options) {
  if (!unsupported_reason(*model, options).empty()) return nullptr;
  if (!takes_resnet_runner(*model, options)) {
    graph::OptimizeOptions graph_options;
    if (options.amp.level != amp::OptLevel::kO0) {
      graph_options.dtype = torch::kBFloat16;
      graph_options.keep_batch_norm_fp32 = options.amp.level == amp::OptLevel::kO2;
    }
    return std::make_shared<GraphModel>(std::move(model), graph_options);
  }
  FoldedResNet folded = fold_resnet(dynamic_cast<const models::ResNet&>(*model));
  const torch::ScalarType dtype = options.amp.level == amp::OptLevel::kO0
                                      ? torch::kFloat32
                                      : amp::scalar_type(options.amp.dtype);
  if (options.kernels == Kernels::kTorch) {
    return std::make_shared<TorchResNet>(std::move(folded), dtype);
  }
  return std::make_shared<OneDnnResNet>(std::move(folded), dtype, options.winograd,
                                        options.max_batch);
}

}  // namespace ptinfer::fastpath
