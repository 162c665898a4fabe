#include "fastpath/script_classifier.h"

#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/interpreter.h>

#include "common/error.h"

namespace ptinfer::fastpath {
namespace {

class ScriptClassifier : public models::ImageClassifier {
 public:
  explicit ScriptClassifier(torch::jit::Module module) : module_(std::move(module)) {
    for (torch::Tensor p : module_.parameters()) p.requires_grad_(false);
    std::shared_ptr<torch::jit::Graph> graph = module_.get_method("forward").graph()->copy();
    if (graph->inputs().size() != 2) {  // self and the image batch
      throw Error(ErrorKind::kUnsupported,
                  "the TorchScript module's forward takes " +
                      std::to_string(graph->inputs().size() - 1) + " inputs, not one tensor");
    }
    torch::jit::Inline(*graph);
    code_ = std::make_unique<torch::jit::Code>(graph, "forward");
  }

  torch::Tensor forward(torch::Tensor x) override {
    torch::jit::Stack stack{module_._ivalue(), std::move(x)};
    torch::jit::InterpreterState(*code_).run(stack);
    if (stack.size() != 1 || !stack[0].isTensor()) {
      throw Error(ErrorKind::kUnsupported,
                  "the TorchScript module's forward did not return one tensor");
    }
    return stack[0].toTensor();
  }

 private:
  torch::jit::Module module_;
  std::unique_ptr<torch::jit::Code> code_;
};

}  // namespace

std::shared_ptr<models::ImageClassifier> script_classifier(torch::jit::Module module) {
  return std::make_shared<ScriptClassifier>(std::move(module));
}

}  // namespace ptinfer::fastpath
