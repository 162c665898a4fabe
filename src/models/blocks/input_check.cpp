#include "models/blocks/input_check.h"

#include <sstream>

#include "common/error.h"

namespace ptinfer::models {

void check_image_batch(const torch::Tensor& x, const std::string& model) {
  if (x.dim() == 4 && x.size(1) == 3) return;
  std::ostringstream shape;
  shape << x.sizes();
  throw Error(ErrorKind::kInvalidArgument,
              model + " input must have shape [N, 3, H, W], got " + shape.str());
}

}  // namespace ptinfer::models
