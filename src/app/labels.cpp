#include "app/labels.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"

namespace ptinfer::app {
namespace {

std::vector<std::string> from_json(const std::string& path, const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorKind::kCorruptData, path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) {
    throw Error(ErrorKind::kCorruptData, path + ": expected a JSON object {\"0\": \"name\", ...}");
  }
  std::map<long, std::string> by_index;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    bool digits =
        !key.empty() && key.size() < 9 && key.find_first_not_of("0123456789") == std::string::npos;
    if (!digits)
      throw Error(ErrorKind::kCorruptData, path + ": key '" + key + "' is not a class index");
    const auto& v = it.value();
    std::string name;
    if (v.is_string()) {
      name = v.get<std::string>();
    } else if (v.is_array() && !v.empty() && v.back().is_string()) {
      name = v.back().get<std::string>();  // ImageNet's ["n01440764", "tench"] form
    } else {
      throw Error(ErrorKind::kCorruptData, path + ": key '" + key + "' has no class name");
    }
    by_index[std::stol(key)] = name;
  }
  std::vector<std::string> names;
  for (const auto& [index, name] : by_index) {
    if (index != static_cast<long>(names.size())) {
      throw Error(ErrorKind::kCorruptData,
                  path + ": class index " + std::to_string(names.size()) + " has no entry");
    }
    names.push_back(name);
  }
  return names;
}

}  // namespace

std::vector<std::string> read_labels(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::kNotFound, "--labels: cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') return from_json(path, text);
  std::vector<std::string> names;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  while (!names.empty() && names.back().empty()) names.pop_back();
  if (names.empty()) throw Error(ErrorKind::kCorruptData, path + ": no class names");
  return names;
}

}  // namespace ptinfer::app
