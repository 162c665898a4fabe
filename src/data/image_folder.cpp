// ImageFolder scan with torchvision 0.14's rules (datasets/folder.py: find_classes, make_dataset,
// has_file_allowed_extension), so that labels and sample order match PyTorch's DataLoader
// without shuffling:
//   classes = sorted(e.name for e in os.scandir(root) if e.is_dir())   (is_dir follows links)
//   per class: for root, _, fnames in sorted(os.walk(class_dir, followlinks=True)):
//                for fname in sorted(fnames): keep os.path.join(root, fname) if its lower-cased
//                path ends with an IMG_EXTENSION
// Python compares str by code point; for UTF-8 names that is byte order, which is what
// std::string's operator< gives (char_traits<char> compares as unsigned char).
#include "data/image_folder.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/error.h"

namespace ptinfer::data {
namespace fs = std::filesystem;

namespace {

// os.path.join for two components, neither absolute: a '/' is added unless `dir` already ends
// with one. Paths are built as strings (not fs::path) so they read exactly as Python's.
std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// os.path.expanduser for the forms a user types: "~" and "~/...". ("~user" is left as is.)
std::string expand_user(const std::string& path) {
  if (path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/')) return path;
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return path;
  std::string h = home;
  if (path.size() == 1) return h;
  while (h.size() > 1 && h.back() == '/') h.pop_back();
  return (h == "/" ? "" : h) + path.substr(1);
}

// One step of os.walk: a directory's path and the names of its non-directory entries.
struct WalkedDir {
  std::string path;
  std::vector<std::string> file_names;
};

// os.walk(top, followlinks=True), top-down, errors ignored (os.walk's default onerror=None
// drops a directory it cannot list). Entries whose is_dir() (following links) is true are
// walked; everything else, broken links included, is a file name, as in os.walk.
// One deliberate difference: a directory that resolves to one of its own ancestors (a symlink
// loop) is not entered. Python would descend until the OS refuses the path (ELOOP or
// ENAMETOOLONG), listing the same files many times; we must not loop or grow without bound.
void walk(const std::string& top, const std::string& top_canonical,
          std::vector<std::string>& ancestors, std::vector<WalkedDir>& out) {
  std::error_code ec;
  fs::directory_iterator it(fs::path(top), ec);
  if (ec) return;
  WalkedDir here{top, {}};
  std::vector<std::pair<std::string, bool>> sub_dirs;  // name, is a symlink
  for (fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) break;  // os.walk stops listing a directory at a read error, keeping what it has
    const fs::directory_entry& entry = *it;
    std::string name = entry.path().filename().string();
    std::error_code entry_ec;
    bool is_dir = entry.is_directory(entry_ec);  // follows links; an error counts as "not a dir"
    if (entry_ec) is_dir = false;
    if (is_dir) {
      std::error_code link_ec;
      bool is_link = entry.is_symlink(link_ec);
      sub_dirs.emplace_back(std::move(name), is_link && !link_ec);
    } else {
      here.file_names.push_back(std::move(name));
    }
  }
  out.push_back(std::move(here));

  ancestors.push_back(top_canonical);
  for (const auto& [name, is_link] : sub_dirs) {
    std::string path = join(top, name);
    // A real sub-directory's canonical path is its parent's plus its name; only a link needs
    // resolving. If resolving fails, the directory cannot be listed either: skip it.
    std::string canonical = join(top_canonical, name);
    if (is_link) {
      std::error_code canon_ec;
      fs::path resolved = fs::canonical(fs::path(path), canon_ec);
      if (canon_ec) continue;
      canonical = resolved.string();
    }
    if (std::find(ancestors.begin(), ancestors.end(), canonical) != ancestors.end()) continue;
    walk(path, canonical, ancestors, out);
  }
  ancestors.pop_back();
}

std::string extension_list() {
  std::string list;
  for (const std::string& ext : image_extensions()) {
    if (!list.empty()) list += ", ";
    list += ext;
  }
  return list;
}

}  // namespace

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> kExtensions = {".jpg", ".jpeg", ".png",  ".ppm", ".bmp",
                                                       ".pgm", ".tif",  ".tiff", ".webp"};
  return kExtensions;
}

bool has_image_extension(const std::string& path) {
  // Python lower-cases the whole (Unicode) path; ASCII lower-casing is equivalent for these
  // ASCII suffixes: the only non-ASCII code points whose lower case contains an ASCII letter
  // are U+0130 ("i" + U+0307, ends in a non-ASCII mark) and U+212A ("k", in no extension).
  for (const std::string& ext : image_extensions()) {
    if (path.size() < ext.size()) continue;
    const size_t start = path.size() - ext.size();
    bool match = true;
    for (size_t i = 0; i < ext.size() && match; ++i) {
      char c = path[start + i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      match = c == ext[i];
    }
    if (match) return true;
  }
  return false;
}

ImageFolderIndex scan_image_folder(const std::string& root_arg) {
  const std::string root = expand_user(root_arg);

  // find_classes: os.scandir(root) raises for a missing or unreadable root or a non-directory.
  std::error_code ec;
  fs::directory_iterator it(fs::path(root), ec);
  if (ec) {
    std::error_code st_ec;
    fs::file_status st = fs::status(fs::path(root), st_ec);
    if (!fs::exists(st)) {
      throw Error(ErrorKind::kNotFound, "ImageFolder root '" + root + "' does not exist");
    }
    if (!fs::is_directory(st)) {
      throw Error(ErrorKind::kNotFound, "ImageFolder root '" + root + "' is not a directory");
    }
    throw Error(ErrorKind::kNotFound,
                "ImageFolder root '" + root + "' cannot be listed: " + ec.message());
  }
  ImageFolderIndex index;
  for (fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) {
      throw Error(ErrorKind::kNotFound,
                  "ImageFolder root '" + root + "' cannot be listed: " + ec.message());
    }
    std::error_code entry_ec;
    if (it->is_directory(entry_ec) && !entry_ec) {
      index.classes.push_back(it->path().filename().string());
    }
  }
  std::sort(index.classes.begin(), index.classes.end());
  if (index.classes.empty()) {
    throw Error(ErrorKind::kNotFound, "Couldn't find any class folder in '" + root + "'");
  }

  // make_dataset.
  std::string root_canonical;
  {
    std::error_code canon_ec;
    root_canonical = fs::canonical(fs::path(root), canon_ec).string();
  }
  std::vector<std::string> empty_classes;
  for (size_t label = 0; label < index.classes.size(); ++label) {
    const std::string class_dir = join(root, index.classes[label]);
    std::string canonical;
    std::error_code canon_ec;
    canonical = fs::canonical(fs::path(class_dir), canon_ec).string();
    if (canon_ec) canonical = join(root_canonical, index.classes[label]);
    std::vector<WalkedDir> dirs;
    std::vector<std::string> ancestors;
    walk(class_dir, canonical, ancestors, dirs);
    // sorted(os.walk(...)) orders the (root, dirs, files) tuples by their root path string;
    // roots are distinct, so the rest of the tuple never decides. This is plain string order
    // of the full path ("a b" < "a/x" < "a0"), not a depth-first tree order.
    std::sort(dirs.begin(), dirs.end(),
              [](const WalkedDir& a, const WalkedDir& b) { return a.path < b.path; });
    bool any = false;
    for (WalkedDir& dir : dirs) {
      std::sort(dir.file_names.begin(), dir.file_names.end());
      for (const std::string& name : dir.file_names) {
        std::string path = join(dir.path, name);
        if (!has_image_extension(path)) continue;
        index.samples.push_back(Sample{std::move(path), static_cast<int>(label)});
        any = true;
      }
    }
    if (!any) empty_classes.push_back(index.classes[label]);
  }

  if (!empty_classes.empty()) {
    std::string names;
    for (const std::string& name : empty_classes) {  // already sorted: classes are
      if (!names.empty()) names += ", ";
      names += name;
    }
    throw Error(ErrorKind::kInvalidArgument, "ImageFolder '" + root +
                                                 "': Found no valid file for the classes " + names +
                                                 ". Supported extensions are: " + extension_list());
  }
  return index;
}

}  // namespace ptinfer::data
