#include "serve/kserve.h"

#include <cstdio>

#include "common/error.h"

namespace ptinfer::serve {
namespace {

using nlohmann::json;

// Largest dimension accepted in a shape: keeps the element count far from overflow; the body
// size limit bounds the real data long before this.
constexpr int64_t kMaxDim = int64_t{1} << 20;

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorKind::kInvalidArgument, message);
}

std::vector<int64_t> read_shape(const json& input, const std::string& where) {
  auto it = input.find("shape");
  if (it == input.end() || !it->is_array()) invalid(where + ".shape: missing or not an array");
  std::vector<int64_t> shape;
  for (const json& d : *it) {
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > kMaxDim) {
      invalid(where + ".shape: dimensions must be integers in [1, " + std::to_string(kMaxDim) +
              "], got " + d.dump());
    }
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

// Appends the numbers of a flat or nested array, depth-first, stopping past `limit` values.
void flatten_numbers(const json& data, std::vector<float>& out, size_t limit,
                     const std::string& where, int depth = 0) {
  if (depth > 8) invalid(where + ": nested too deeply");
  for (const json& v : data) {
    if (v.is_array()) {
      flatten_numbers(v, out, limit, where, depth + 1);
    } else if (v.is_number()) {
      out.push_back(v.get<float>());
    } else {
      invalid(where + ": FP32 data must hold numbers, got " + std::string(v.type_name()));
    }
    if (out.size() > limit) return;
  }
}

int64_t read_classification(const json& object) {
  auto params = object.find("parameters");
  if (params == object.end()) return 0;
  if (!params->is_object()) invalid("parameters: not an object");
  auto k = params->find("classification");
  if (k == params->end()) return 0;
  if (!k->is_number_integer() || k->get<int64_t>() < 1) {
    invalid("parameters.classification: must be an integer >= 1, got " + k->dump());
  }
  return k->get<int64_t>();
}

std::string format_logit(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

std::string base64_decode(const std::string& text, const std::string& field) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '=' && text.size() - end < 2) --end;
  if (end % 4 == 1 || (end != text.size() && text.size() % 4 != 0)) {
    throw Error(ErrorKind::kCorruptData, field + ": invalid base64 length");
  }
  std::string out;
  out.reserve(end / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < end; ++i) {
    int v = value(text[i]);
    if (v < 0) {
      throw Error(ErrorKind::kCorruptData,
                  field + ": invalid base64 character at offset " + std::to_string(i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

InferRequest parse_infer_request(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(ErrorKind::kCorruptData, "request body is not valid JSON");
  if (!j.is_object()) invalid("request body must be a JSON object");
  InferRequest r;
  if (auto id = j.find("id"); id != j.end()) {
    if (!id->is_string()) invalid("id: must be a string");
    r.id = id->get<std::string>();
  }
  r.classification = read_classification(j);
  if (auto outputs = j.find("outputs"); outputs != j.end()) {
    if (!outputs->is_array() || outputs->size() > 1) invalid("outputs: at most one output");
    if (!outputs->empty()) {
      const json& o = outputs->front();
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string()) {
        invalid("outputs[0].name: missing or not a string");
      }
      r.output_name = o["name"].get<std::string>();
      if (int64_t k = read_classification(o)) r.classification = k;
    }
  }
  auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array() || inputs->size() != 1) {
    invalid("inputs: must be an array with exactly one input");
  }
  const json& input = inputs->front();
  if (!input.is_object()) invalid("inputs[0]: must be an object");
  if (!input.contains("name") || !input["name"].is_string()) {
    invalid("inputs[0].name: missing or not a string");
  }
  r.input_name = input["name"].get<std::string>();
  if (!input.contains("datatype") || !input["datatype"].is_string()) {
    invalid("inputs[0].datatype: missing or not a string");
  }
  const std::string datatype = input["datatype"].get<std::string>();
  std::vector<int64_t> shape = read_shape(input, "inputs[0]");
  auto data = input.find("data");
  if (data == input.end() || !data->is_array()) invalid("inputs[0].data: missing or not an array");

  if (datatype == "FP32") {
    if (shape.size() != 4 || shape[1] != 3) {
      invalid("inputs[0].shape: FP32 input must be [N, 3, H, W]");
    }
    int64_t count = 1;
    for (int64_t d : shape) {
      count *= d;
      if (count > (int64_t{1} << 40)) invalid("inputs[0].shape: too many elements");
    }
    std::vector<float> values;
    flatten_numbers(*data, values, static_cast<size_t>(count), "inputs[0].data");
    if (static_cast<int64_t>(values.size()) != count) {
      invalid(
          "inputs[0].data: shape needs " + std::to_string(count) + " values, got " +
          (static_cast<int64_t>(values.size()) > count ? "more" : std::to_string(values.size())));
    }
    r.tensor = torch::from_blob(values.data(), shape, torch::kFloat32).clone();
  } else if (datatype == "BYTES") {
    if (!(shape.size() == 1 || (shape.size() == 2 && shape[1] == 1))) {
      invalid("inputs[0].shape: BYTES input must be [N] or [N, 1]");
    }
    json flat = json::array();
    for (const json& v : *data) {
      if (v.is_array()) {
        for (const json& w : v) flat.push_back(w);
      } else {
        flat.push_back(v);
      }
    }
    if (static_cast<int64_t>(flat.size()) != shape[0]) {
      invalid("inputs[0].data: shape needs " + std::to_string(shape[0]) + " images, got " +
              std::to_string(flat.size()));
    }
    r.is_images = true;
    for (size_t i = 0; i < flat.size(); ++i) {
      const std::string where = "inputs[0].data[" + std::to_string(i) + "]";
      if (!flat[i].is_string()) invalid(where + ": must be a base64 string");
      r.images.push_back(base64_decode(flat[i].get<std::string>(), where));
    }
  } else {
    throw Error(ErrorKind::kUnsupported,
                "inputs[0].datatype: '" + datatype + "' is not supported (FP32 or BYTES)");
  }
  return r;
}

json infer_response(const std::string& model, const InferRequest& request,
                    const torch::Tensor& logits, const std::vector<std::string>& labels) {
  torch::Tensor l = logits.to(torch::kFloat32).contiguous();
  const int64_t n = l.size(0), c = l.size(1);
  json output = {{"name", request.output_name}};
  if (request.classification > 0) {
    const int64_t k = std::min(request.classification, c);
    auto [values, indices] = torch::topk(l, k, 1, /*largest=*/true, /*sorted=*/true);
    values = values.contiguous();
    indices = indices.contiguous();
    json data = json::array();
    for (int64_t i = 0; i < n * k; ++i) {
      int64_t index = indices.data_ptr<int64_t>()[i];
      std::string s = format_logit(values.data_ptr<float>()[i]) + ":" + std::to_string(index);
      if (index < static_cast<int64_t>(labels.size())) s += ":" + labels[index];
      data.push_back(s);
    }
    output["datatype"] = "BYTES";
    output["shape"] = {n, k};
    output["data"] = std::move(data);
  } else {
    const float* p = l.data_ptr<float>();
    output["datatype"] = "FP32";
    output["shape"] = {n, c};
    output["data"] = std::vector<float>(p, p + n * c);
  }
  json response = {{"model_name", model}, {"model_version", "1"}, {"outputs", {output}}};
  if (!request.id.empty()) response["id"] = request.id;
  return response;
}

}  // namespace ptinfer::serve
