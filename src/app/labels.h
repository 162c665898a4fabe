// Class names for predictions: TorchServe's index_to_name.json ({"0": "name"} or
// {"0": ["wnid", "name"]}), or a text file with one name a line.
#pragma once

#include <string>
#include <vector>

namespace ptinfer::app {

// Reads a labels file. JSON when the first non-blank character is '{', else text. Throws
// Error(kNotFound) for a missing file and Error(kCorruptData) naming the file and the key at
// fault (a non-integer key, an index with no entry, a value that is not a name).
std::vector<std::string> read_labels(const std::string& path);

}  // namespace ptinfer::app
