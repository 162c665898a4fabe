#include "app/preprocessing.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "common/error.h"
#include "engine/engine.h"
#include "models/registry.h"

namespace ptinfer::app {
namespace {

std::string triple_text(const std::array<float, 3>& v) {
  std::ostringstream s;
  s << "[" << v[0] << ", " << v[1] << ", " << v[2] << "]";
  return s.str();
}

std::string flag_of(std::string field) {
  std::replace(field.begin(), field.end(), '_', '-');
  return "--" + field;
}

}  // namespace

const char* preprocessing_base_name(PreprocessingBase base) {
  switch (base) {
    case PreprocessingBase::kGuide:
      return "guide";
    case PreprocessingBase::kModel:
      return "model";
  }
  return "unknown";
}

PreprocessingBase parse_preprocessing_base(const std::string& text, const std::string& what) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (PreprocessingBase b : {PreprocessingBase::kGuide, PreprocessingBase::kModel}) {
    if (lower == preprocessing_base_name(b)) return b;
  }
  throw Error(ErrorKind::kInvalidArgument, what + " must be guide or model, got '" + text + "'");
}

std::vector<std::string> overridden_fields(const PreprocessingOverrides& o) {
  std::vector<std::string> fields;
  if (o.resize_size) fields.push_back("resize_size");
  if (o.crop_size) fields.push_back("crop_size");
  if (o.interpolation) fields.push_back("interpolation");
  if (o.mean) fields.push_back("mean");
  if (o.std) fields.push_back("std");
  return fields;
}

std::optional<data::PreprocessOptions> preset_preprocessing(const std::string& arch) {
  const std::vector<std::string> names = models::model_names();
  if (!std::binary_search(names.begin(), names.end(), arch)) return std::nullopt;
  const models::PresetPreprocessing& preset = models::arch_spec(arch).preset;
  data::PreprocessOptions p;
  p.resize_size = static_cast<int>(preset.resize_size);
  p.crop_size = static_cast<int>(preset.crop_size);
  p.interpolation = data::parse_interpolation(preset.interpolation, arch + "'s preset");
  for (int c = 0; c < 3; ++c) {
    p.mean[c] = static_cast<float>(preset.mean[c]);
    p.std[c] = static_cast<float>(preset.std[c]);
  }
  return p;
}

data::PreprocessOptions resolve_preprocessing(const PreprocessingChoice& choice,
                                              const std::string& arch, const std::string& what) {
  data::PreprocessOptions p;  // the guide's
  if (choice.base == PreprocessingBase::kModel) {
    std::optional<data::PreprocessOptions> preset = preset_preprocessing(arch);
    if (!preset) {
      if (arch == engine::kTorchScriptArch) {
        throw Error(ErrorKind::kInvalidArgument,
                    what + " model: --arch torchscript has no preset (a TorchScript archive "
                           "does not say how its model was trained); use " + what +
                        " guide and give --resize-size, --crop-size, --interpolation, --mean, "
                        "--std as the model needs");
      }
      models::arch_spec(arch);  // throws Error(kNotFound) listing the known architectures
      throw Error(ErrorKind::kInternal, arch + ": no preset");  // not reached
    }
    p = *preset;
  }
  const PreprocessingOverrides& o = choice.overrides;
  if (o.resize_size) p.resize_size = *o.resize_size;
  if (o.crop_size) p.crop_size = *o.crop_size;
  if (o.interpolation) p.interpolation = *o.interpolation;
  if (o.mean) p.mean = *o.mean;
  if (o.std) p.std = *o.std;
  return p;
}

std::string describe_choice(const PreprocessingChoice& choice) {
  std::string text = preprocessing_base_name(choice.base);
  std::string fields;
  for (const std::string& f : overridden_fields(choice.overrides)) {
    fields += (fields.empty() ? "" : ", ") + f;
  }
  return fields.empty() ? text : text + " with " + fields;
}

std::string describe_preprocessing(const data::PreprocessOptions& p, bool with_normalize) {
  std::string text = p.resize_size > 0 ? "resize " + std::to_string(p.resize_size) : "no resize";
  text += ", crop " + std::to_string(p.crop_size) + ", " +
          data::interpolation_name(p.interpolation);
  if (with_normalize) text += ", mean " + triple_text(p.mean) + ", std " + triple_text(p.std);
  return text;
}

std::string preset_note(const std::string& arch, const PreprocessingChoice& choice,
                        const data::PreprocessOptions& running) {
  std::optional<data::PreprocessOptions> preset = preset_preprocessing(arch);
  if (!preset) return "";
  const bool normalize_differs = preset->mean != running.mean || preset->std != running.std;
  // Without a resize the filter plays no part, but it still is what the weights declare.
  if (!normalize_differs && preset->resize_size == running.resize_size &&
      preset->crop_size == running.crop_size && preset->interpolation == running.interpolation) {
    return "";
  }
  std::string flags;
  for (const std::string& field : overridden_fields(choice.overrides)) {
    flags += (flags.empty() ? "" : ", ") + flag_of(field);
  }
  std::string hint;
  if (choice.base == PreprocessingBase::kGuide) {
    hint = "--preprocessing model" + (flags.empty() ? "" : " without " + flags) +
           " selects the preset";
  } else {
    hint = flags + " replacing the preset's";
  }
  return arch + "'s weights were trained with " +
         describe_preprocessing(*preset, normalize_differs) + "; running " +
         describe_preprocessing(running, normalize_differs) + " (" + hint + ")";
}

}  // namespace ptinfer::app
