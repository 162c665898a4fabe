#include "engine/model.h"

#include "amp/model_policy.h"

namespace ptinfer::engine {
namespace {

class NativeModel : public Model {
 public:
  explicit NativeModel(std::shared_ptr<models::ImageClassifier> model) : model_(std::move(model)) {}
  torch::Tensor forward(const torch::Tensor& x) override { return model_->forward(x); }
  void to_device_eval(const torch::Device& device) override {
    model_->to(device);
    model_->eval();
  }
  void apply_policy(const amp::Policy& policy) override { amp::apply_to_model(*model_, policy); }

 private:
  std::shared_ptr<models::ImageClassifier> model_;
};

}  // namespace

std::unique_ptr<Model> wrap_native(std::shared_ptr<models::ImageClassifier> model) {
  return std::make_unique<NativeModel>(std::move(model));
}

}  // namespace ptinfer::engine
