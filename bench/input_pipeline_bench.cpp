// The input pipeline alone, on one thread: for each file, ptinfer's decode + Resize + CenterCrop +
// ToTensor + Normalize (data::preprocess_file, what validate's loader threads run per image).
// bench/input_pipeline.py runs it beside PIL + torchvision on the same files.
//
// Usage: input_pipeline_bench --list FILE [--rounds N] [--resize 256] [--crop 224]
//                             [--dump FILE --dump-count K]
//   --list        a text file with one image path per line
//   --rounds      timed passes over every file (default 1; the best is reported)
//   --dump        write the first K images' float outputs (CHW, native float32) there, in list
//                 order, for an exactness check
// Prints one JSON object: {"images", "rounds", "best_seconds", "images_per_second"}.
// Exit status 2 for bad arguments, 1 when an image fails (the message names it).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "engine/cpu_setup.h"

namespace {

using ptinfer::data::PreprocessOptions;

struct Args {
  std::string list, dump;
  int rounds = 1, dump_count = 0;
  PreprocessOptions options;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--list") a.list = value;
    else if (flag == "--rounds") a.rounds = std::stoi(value);
    else if (flag == "--resize") a.options.resize_size = std::stoi(value);
    else if (flag == "--crop") a.options.crop_size = std::stoi(value);
    else if (flag == "--dump") a.dump = value;
    else if (flag == "--dump-count") a.dump_count = std::stoi(value);
    else throw std::invalid_argument("unknown flag " + flag);
  }
  if (a.list.empty()) throw std::invalid_argument("--list is required");
  if (a.rounds < 1) throw std::invalid_argument("--rounds must be >= 1");
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  // The malloc setting every ptinfer process applies at start: decoded images are reused heap
  // memory, not fresh mmapped pages.
  ptinfer::engine::tune_malloc();
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "input_pipeline_bench: " << e.what() << "\n";
    return 2;
  }
  std::vector<std::string> files;
  std::ifstream list(args.list);
  for (std::string line; std::getline(list, line);) {
    if (!line.empty()) files.push_back(line);
  }
  if (files.empty()) {
    std::cerr << "input_pipeline_bench: " << args.list << ": no files listed\n";
    return 2;
  }
  std::vector<float> out(ptinfer::data::preprocessed_size(args.options));
  try {
    if (!args.dump.empty()) {
      std::ofstream dump(args.dump, std::ios::binary);
      for (int i = 0; i < args.dump_count && i < static_cast<int>(files.size()); ++i) {
        ptinfer::data::preprocess_file(files[i], args.options, out.data());
        dump.write(reinterpret_cast<const char*>(out.data()),
                   static_cast<std::streamsize>(out.size() * sizeof(float)));
      }
    }
    double best = 0.0;
    for (int r = 0; r < args.rounds; ++r) {
      const auto start = std::chrono::steady_clock::now();
      for (const std::string& f : files) ptinfer::data::preprocess_file(f, args.options, out.data());
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (r == 0 || s < best) best = s;
    }
    std::printf("{\"images\": %zu, \"rounds\": %d, \"best_seconds\": %.6f, "
                "\"images_per_second\": %.3f}\n",
                files.size(), args.rounds, best, files.size() / best);
  } catch (const std::exception& e) {
    std::cerr << "input_pipeline_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
