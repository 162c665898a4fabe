// ImageFolder scan: torchvision's rules on temporary trees built here, plus one comparison
// against torchvision itself (Debian's /usr/bin/python3) on a tree with every awkward case.
#include "data/image_folder.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/scoped_temp_dir.h"

namespace ptinfer::data {
namespace {
namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it at the end.
class TempDir : public ScopedTempDir {
 public:
  TempDir() : ScopedTempDir("ptinfer_image_folder_") {}
  // Creates an empty file at root/relative, making its parent folders.
  void touch(const std::string& relative) const {
    fs::path p = fs::path(path()) / relative;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "x";
  }
  void mkdir(const std::string& relative) const {
    fs::create_directories(fs::path(path()) / relative);
  }
  void symlink(const std::string& target, const std::string& relative) const {
    fs::create_symlink(target, fs::path(path()) / relative);
  }
};

std::vector<std::string> relative_paths(const ImageFolderIndex& index, const std::string& root) {
  std::vector<std::string> out;
  for (const Sample& s : index.samples) {
    EXPECT_EQ(s.path.rfind(root + "/", 0), 0u) << s.path;
    out.push_back(s.path.substr(root.size() + 1));
  }
  return out;
}

std::vector<int> labels(const ImageFolderIndex& index) {
  std::vector<int> out;
  for (const Sample& s : index.samples) out.push_back(s.label);
  return out;
}

TEST(ImageFolderExtension, CaseInsensitiveSuffixOnly) {
  EXPECT_TRUE(has_image_extension("a.jpg"));
  EXPECT_TRUE(has_image_extension("dir/A.JPG"));
  EXPECT_TRUE(has_image_extension("x.Png"));
  EXPECT_TRUE(has_image_extension("x.TiFf"));
  EXPECT_TRUE(has_image_extension("x.webp"));
  EXPECT_TRUE(has_image_extension(".jpeg"));  // Python's endswith: a bare extension matches
  EXPECT_FALSE(has_image_extension("jpg"));
  EXPECT_FALSE(has_image_extension("a.jpg.txt"));
  EXPECT_FALSE(has_image_extension("a.gif"));
  EXPECT_FALSE(has_image_extension("a.jpe"));
  EXPECT_FALSE(has_image_extension(""));
  EXPECT_EQ(image_extensions().size(), 9u);
}

TEST(ImageFolder, ClassesSortedByBytesWithLabels) {
  TempDir dir;
  dir.touch("b/1.jpg");
  dir.touch("a/2.jpg");
  dir.touch("C/3.jpg");
  dir.touch("a b/4.jpg");
  dir.touch("top_level.jpg");  // a file in the root is not a class
  ImageFolderIndex index = scan_image_folder(dir.path());
  EXPECT_EQ(index.classes, (std::vector<std::string>{"C", "a", "a b", "b"}));
  EXPECT_EQ(relative_paths(index, dir.path()),
            (std::vector<std::string>{"C/3.jpg", "a/2.jpg", "a b/4.jpg", "b/1.jpg"}));
  EXPECT_EQ(labels(index), (std::vector<int>{0, 1, 2, 3}));
}

TEST(ImageFolder, NestedFoldersInPathStringOrder) {
  // sorted(os.walk(...)) sorts whole directory paths as strings: ' ' < '/' < '0', so "x/a b"
  // comes between "x/a" and "x/a/sub", and "x/a0" after both.
  TempDir dir;
  dir.touch("x/z.jpg");
  dir.touch("x/a/1.jpg");
  dir.touch("x/a b/2.jpg");
  dir.touch("x/a0/3.jpg");
  dir.touch("x/a/sub/4.jpg");
  dir.touch("x/a/0.jpg");
  ImageFolderIndex index = scan_image_folder(dir.path());
  EXPECT_EQ(relative_paths(index, dir.path()),
            (std::vector<std::string>{"x/z.jpg", "x/a/0.jpg", "x/a/1.jpg", "x/a b/2.jpg",
                                      "x/a/sub/4.jpg", "x/a0/3.jpg"}));
}

TEST(ImageFolder, MixedCaseExtensionsKeptOtherFilesSkipped) {
  TempDir dir;
  dir.touch("c/B.JPG");
  dir.touch("c/a.Png");
  dir.touch("c/notes.txt");
  dir.touch("c/x.jpg.bak");
  dir.touch("c/noext");
  dir.touch("c/.hidden.jpeg");  // torchvision keeps hidden files
  dir.mkdir("c/folder.jpg");    // a directory is never a sample, but is walked
  dir.touch("c/folder.jpg/in.bmp");
  ImageFolderIndex index = scan_image_folder(dir.path());
  EXPECT_EQ(
      relative_paths(index, dir.path()),
      (std::vector<std::string>{"c/.hidden.jpeg", "c/B.JPG", "c/a.Png", "c/folder.jpg/in.bmp"}));
}

TEST(ImageFolder, HiddenAndLinkedClassFolders) {
  TempDir dir;
  dir.touch(".cache/1.png");  // torchvision has no hidden-folder filter: this is a class
  dir.touch("real/2.png");
  dir.symlink("real", "linked");  // is_dir() follows links: a class of its own
  ImageFolderIndex index = scan_image_folder(dir.path());
  EXPECT_EQ(index.classes, (std::vector<std::string>{".cache", "linked", "real"}));
  EXPECT_EQ(relative_paths(index, dir.path()),
            (std::vector<std::string>{".cache/1.png", "linked/2.png", "real/2.png"}));
  EXPECT_EQ(labels(index), (std::vector<int>{0, 1, 2}));
}

TEST(ImageFolder, SymlinkLoopIsNotEnteredTwice) {
  TempDir dir;
  dir.touch("c/1.jpg");
  dir.touch("c/sub/2.jpg");
  dir.symlink("..", "c/sub/up");  // c/sub/up -> c: a cycle
  ImageFolderIndex index = scan_image_folder(dir.path());
  EXPECT_EQ(relative_paths(index, dir.path()),
            (std::vector<std::string>{"c/1.jpg", "c/sub/2.jpg"}));
}

TEST(ImageFolder, TrailingSlashRootJoinsLikePython) {
  TempDir dir;
  dir.touch("c/1.jpg");
  ImageFolderIndex index = scan_image_folder(dir.path() + "/");
  ASSERT_EQ(index.samples.size(), 1u);
  EXPECT_EQ(index.samples[0].path, dir.path() + "/c/1.jpg");
}

TEST(ImageFolder, EmptyClassesAreNamed) {
  TempDir dir;
  dir.touch("ok/1.jpg");
  dir.touch("zeta/readme.txt");
  dir.mkdir("alpha/nested");
  try {
    scan_image_folder(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(
                  "Found no valid file for the classes alpha, zeta. Supported extensions are: "
                  ".jpg, .jpeg, .png, .ppm, .bmp, .pgm, .tif, .tiff, .webp"),
              std::string::npos)
        << e.what();
  }
}

TEST(ImageFolder, MissingRootIsNotFound) {
  TempDir dir;
  const std::string missing = dir.path() + "/does_not_exist";
  try {
    scan_image_folder(missing);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
}

TEST(ImageFolder, RootThatIsAFileOrHasNoClassIsNotFound) {
  TempDir dir;
  dir.touch("file.jpg");
  try {
    scan_image_folder(dir.path() + "/file.jpg");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("not a directory"), std::string::npos) << e.what();
  }
  try {
    scan_image_folder(dir.path());  // only a file, no class folder
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("class folder"), std::string::npos) << e.what();
  }
}

// Runs torchvision's find_classes + make_dataset on `root` and returns its samples as JSON.
nlohmann::json torchvision_scan(const std::string& root) {
  const char* env_python = std::getenv("PTINFER_PYTHON");
  const std::string python = env_python != nullptr ? env_python : "/usr/bin/python3";
  const std::string script =
      "import json, sys\n"
      "from torchvision.datasets.folder import find_classes, make_dataset, IMG_EXTENSIONS\n"
      "classes, idx = find_classes(sys.argv[1])\n"
      "samples = make_dataset(sys.argv[1], idx, IMG_EXTENSIONS)\n"
      "print(json.dumps({\"classes\": classes, \"samples\": samples}))\n";
  const std::string command = python + " -c '" + script + "' '" + root + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + python);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  if (status != 0) throw std::runtime_error("torchvision scan failed: " + command);
  return nlohmann::json::parse(out);
}

TEST(ImageFolder, MatchesTorchvisionOnAwkwardTree) {
  TempDir dir;
  for (const char* f :
       {"b/B.JPG",   "b/a.Png",           "b/c.txt",        "b/.hidden.jpeg", "b/x.jpeg.bak",
        "b/noext",   "b/a b/1.tif",       "b/a/2.webp",     "b/a/x/3.bmp",    "b/a0/4.ppm",
        "b/A/5.pgm", "b/\xc3\xa9/6.tiff", "b/\xce\xa9.jpg", "b/z.jpg",        "b/e\xcc\x81.jpg",
        "a/1.jpg",   "a/dir.jpg/in.png",  "C/x.JPEG",       ".hid/h.png",     "file.jpg",
        "b/-/7.jpg", "b/_/8.jpg",         "b/a-b/9.jpg",    "b/a.b/10.jpg",   "b/a/b/11.jpg"}) {
    dir.touch(f);
  }
  dir.symlink("a", "link_to_a");
  dir.symlink("does_not_exist.jpg", "a/broken.jpg");  // a broken link is still a "file"
  dir.symlink("../C", "b/linkdir");
  ImageFolderIndex index = scan_image_folder(dir.path());
  nlohmann::json expected = torchvision_scan(dir.path());

  ASSERT_EQ(index.classes, expected["classes"].get<std::vector<std::string>>());
  ASSERT_EQ(index.samples.size(), expected["samples"].size());
  for (size_t i = 0; i < index.samples.size(); ++i) {
    EXPECT_EQ(index.samples[i].path, expected["samples"][i][0].get<std::string>()) << i;
    EXPECT_EQ(index.samples[i].label, expected["samples"][i][1].get<int>()) << i;
  }
}

}  // namespace
}  // namespace ptinfer::data
