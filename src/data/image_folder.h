// torchvision.datasets.ImageFolder's rules: each sub-folder of the root is a class (sorted by
// name), every file below it (recursively, following links) whose extension is in torchvision's
// IMG_EXTENSIONS (any case) is a sample; other files are skipped.
#pragma once

#include <string>
#include <vector>

namespace ptinfer::data {

struct Sample {
  std::string path;
  int label = 0;
};

struct ImageFolderIndex {
  std::vector<std::string> classes;  // sorted class folder names; label i is classes[i]
  std::vector<Sample> samples;       // sorted as torchvision: by class, then by path
};

// torchvision's IMG_EXTENSIONS: .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp
const std::vector<std::string>& image_extensions();

// True when `path` ends with one of image_extensions(), compared case-insensitively.
bool has_image_extension(const std::string& path);

// Scans `root`. Throws Error(kNotFound) when root is not a directory or has no class folder,
// Error(kInvalidArgument) naming the class folder when one holds no image (as torchvision's
// "Found no valid file for the classes ...").
ImageFolderIndex scan_image_folder(const std::string& root);

}  // namespace ptinfer::data
