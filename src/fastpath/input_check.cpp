#include "fastpath/input_check.h"

#include <sstream>

#include "common/error.h"

namespace ptinfer::fastpath {

void check_input(const torch::Tensor& x) {
  if (x.dim() == 4 && x.size(1) == 3 && x.size(0) >= 1 && x.size(2) >= 1 && x.size(3) >= 1 &&
      x.is_floating_point()) {
    return;
  }
  std::ostringstream shape;
  shape << x.sizes() << " " << x.scalar_type();
  throw Error(ErrorKind::kInvalidArgument,
              "ResNet input must be a float tensor of shape [N, 3, H, W], got " + shape.str());
}

}  // namespace ptinfer::fastpath
