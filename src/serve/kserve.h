// KServe v2 (Open Inference Protocol) REST: decoding infer requests and encoding responses.
// One input per request: FP32 [N, 3, H, W] (already preprocessed; "data" flat or nested,
// row-major) or BYTES [N] holding encoded images as base64 strings (JSON strings cannot carry
// raw bytes). The classification extension is asked for with "parameters": {"classification": k}
// on the request or on its output; the output is then BYTES [N, k] with Triton's
// "<logit>:<index>[:<label>]" strings, best first.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ptinfer::serve {

struct InferRequest {
  std::string id;  // echoed back when given
  std::string input_name;
  bool is_images = false;           // BYTES input
  torch::Tensor tensor;             // FP32 input, [N, 3, H, W]
  std::vector<std::string> images;  // BYTES input, decoded from base64
  std::string output_name = "output__0";
  int64_t classification = 0;  // 0: the raw logits
};

// Parses an infer request body. Throws Error(kCorruptData) for malformed JSON or base64 and
// Error(kInvalidArgument) naming the field for a missing or wrong field, a datatype other than
// FP32/BYTES, a shape that is not [N, 3, H, W] (FP32) or [N] / [N, 1] (BYTES), or a data length
// that does not match the shape.
InferRequest parse_infer_request(const std::string& body);

// The response to `request` for model `model` given its logits [N, C]; `labels` (may be empty)
// names the classes in classification strings.
nlohmann::json infer_response(const std::string& model, const InferRequest& request,
                              const torch::Tensor& logits, const std::vector<std::string>& labels);

// Standard base64 (RFC 4648, '=' padding optional, whitespace not allowed). Throws
// Error(kCorruptData) naming `field` for any other character or a bad length.
std::string base64_decode(const std::string& text, const std::string& field);

}  // namespace ptinfer::serve
