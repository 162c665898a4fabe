#include "models/blocks/conv_norm_act.h"

#include <string>

#include "common/error.h"
#include "models/blocks/layers.h"

namespace ptinfer::models {

torch::nn::Sequential conv_norm_act(const ConvNormActOptions& o, Init init) {
  const bool valid = o.in >= 1 && o.out >= 1 && o.kernel >= 1 && o.stride >= 1 && o.groups >= 1 &&
                     o.dilation >= 1 && o.in % o.groups == 0 && o.out % o.groups == 0;
  if (!valid) {
    throw Error(ErrorKind::kInvalidArgument,
                "Conv2dNormActivation: invalid options in=" + std::to_string(o.in) +
                    " out=" + std::to_string(o.out) + " kernel=" + std::to_string(o.kernel) +
                    " stride=" + std::to_string(o.stride) + " groups=" +
                    std::to_string(o.groups) + " dilation=" + std::to_string(o.dilation));
  }
  const int64_t padding = o.padding.value_or((o.kernel - 1) / 2 * o.dilation);
  torch::nn::Sequential seq;
  seq->push_back(make_conv(torch::nn::Conv2dOptions(o.in, o.out, o.kernel)
                               .stride(o.stride)
                               .padding(padding)
                               .dilation(o.dilation)
                               .groups(o.groups)
                               .bias(o.bias.value_or(!o.norm.has_value())),
                           init));
  if (o.norm) seq->push_back(make_batch_norm(o.out, o.norm->eps, o.norm->momentum));
  if (o.activation) seq->push_back(Activation(*o.activation));
  return seq;
}

}  // namespace ptinfer::models
