#include "serve/model_spec.h"

#include <cctype>

#include "common/error.h"

namespace ptinfer::serve {

bool valid_model_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

ModelSpec parse_model_spec(const std::string& text, const ModelSpec& defaults) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorKind::kInvalidArgument, "--model '" + text + "': " + why +
                                                  " (expected NAME=CHECKPOINT[,arch=ARCH,"
                                                  "labels=FILE])");
  };
  const size_t eq = text.find('=');
  if (eq == std::string::npos) throw bad("no '='");
  ModelSpec spec = defaults;
  spec.name = text.substr(0, eq);
  if (!valid_model_name(spec.name)) throw bad("the name must be letters, digits, '_', '-', '.'");
  spec.source = "--model " + spec.name;
  std::string rest = text.substr(eq + 1);
  size_t comma = rest.find(',');
  spec.checkpoint = rest.substr(0, comma);
  if (spec.checkpoint.empty()) throw bad("no checkpoint");
  while (comma != std::string::npos) {
    size_t next = rest.find(',', comma + 1);
    std::string item = rest.substr(comma + 1, next == std::string::npos ? next : next - comma - 1);
    size_t kv = item.find('=');
    std::string key = item.substr(0, kv);
    std::string value = kv == std::string::npos ? "" : item.substr(kv + 1);
    if (value.empty()) throw bad("'" + item + "' has no value");
    if (key == "arch") {
      spec.arch = value;
    } else if (key == "labels") {
      spec.labels = value;
    } else {
      throw bad("unknown key '" + key + "'");
    }
    comma = next;
  }
  resolve_spec_preprocessing(spec, "--preprocessing");
  return spec;
}

void resolve_spec_preprocessing(ModelSpec& spec, const std::string& what) {
  try {
    spec.preprocess = app::resolve_preprocessing(spec.preprocessing, spec.arch, what);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidArgument, spec.source + ": " + e.what());
  }
}

}  // namespace ptinfer::serve
