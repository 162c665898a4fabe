#include "fastpath/script_classifier.h"

#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/interpreter.h>

#include "common/error.h"

namespace ptinfer::fastpath {
namespace {

class ScriptClassifier : public models::ImageClassifier {
 public:
  ScriptClassifier(torch::jit::Module module, std::string path)
      : module_(std::move(module)), path_(std::move(path)) {
    for (torch::Tensor p : module_.parameters()) p.requires_grad_(false);
    std::shared_ptr<torch::jit::Graph> graph = module_.get_method("forward").graph()->copy();
    if (graph->inputs().size() != 2) {  // self and the image batch
      throw Error(ErrorKind::kUnsupported,
                  path_ + ": the TorchScript module's forward takes " +
                      std::to_string(graph->inputs().size() - 1) + " inputs, not one tensor");
    }
    torch::jit::Inline(*graph);
    code_ = std::make_unique<torch::jit::Code>(graph, "forward");
  }

  torch::Tensor forward(torch::Tensor x) override {
    const std::string input = sizes_text(x.sizes()) + " " + c10::toString(x.scalar_type());
    torch::jit::Stack stack{module_._ivalue(), std::move(x)};
    try {
      torch::jit::InterpreterState(*code_).run(stack);
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::kUnsupported, path_ + ": the TorchScript model's forward failed on a " +
                                               input + " input: " + e.what_without_backtrace());
    }
    if (stack.size() != 1 || !stack[0].isTensor()) {
      throw Error(ErrorKind::kUnsupported,
                  path_ + ": the TorchScript model's forward returned " +
                      (stack.empty() ? std::string("nothing") : stack[0].tagKind()) +
                      ", expected a logits tensor");
    }
    return stack[0].toTensor();
  }

 private:
  static std::string sizes_text(c10::IntArrayRef sizes) {
    std::string text = "[";
    for (size_t i = 0; i < sizes.size(); ++i) text += (i ? ", " : "") + std::to_string(sizes[i]);
    return text + "]";
  }

  torch::jit::Module module_;
  std::string path_;
  std::unique_ptr<torch::jit::Code> code_;
};

}  // namespace

std::shared_ptr<models::ImageClassifier> script_classifier(torch::jit::Module module,
                                                           const std::string& path) {
  return std::make_shared<ScriptClassifier>(std::move(module), path);
}

}  // namespace ptinfer::fastpath
