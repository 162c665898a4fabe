#include "models/legacy_keys.h"

#include <regex>

namespace ptinfer::models {

std::string densenet_current_key(const std::string& key) {
  static const std::regex kOld(
      R"(^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$)");
  std::smatch m;
  if (!std::regex_match(key, m, kOld)) return key;
  return m[1].str() + m[2].str();
}

std::string vit_current_key(const std::string& key) {
  static const std::regex kOld(R"(^(.*mlp\.)linear_([12])\.(weight|bias)$)");
  std::smatch m;
  if (!std::regex_match(key, m, kOld)) return key;
  return m[1].str() + (m[2].str() == "1" ? "0" : "3") + "." + m[3].str();
}

}  // namespace ptinfer::models
