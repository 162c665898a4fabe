// Which preprocessing a run uses, decided in one place for validate, predict, serve, bench and
// finetune: a base, either the guide's (Resize(256) + CenterCrop(224), bilinear, ImageNet
// mean/std: the numbers of the guide's loop, for every architecture) or the architecture's preset
// (what torchvision's DEFAULT weights declare: models/arch_spec.h, ArchSpec::preset); then every
// field given explicitly (a --resize-size/--crop-size/--interpolation/--mean/--std flag, a model
// store's "preprocessing" key) replaces the base's, field by field.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "data/preprocess.h"

namespace ptinfer::app {

enum class PreprocessingBase {
  kGuide,  // --preprocessing guide (the default): data::PreprocessOptions' defaults
  kModel,  // --preprocessing model: the architecture's preset
};

// "guide" or "model", as the flag and model store configs spell it.
const char* preprocessing_base_name(PreprocessingBase base);

// The base `text` names ("guide" or "model", in any letter case). Throws Error(kInvalidArgument)
// "<what> must be guide or model, got '<text>'" for anything else, `what` naming the flag or key.
PreprocessingBase parse_preprocessing_base(const std::string& text, const std::string& what);

// Fields given explicitly; each one that is set wins over the base. Values are taken as they are
// (the flag and config readers check their ranges).
struct PreprocessingOverrides {
  std::optional<int> resize_size;                  // 0: no resize
  std::optional<int> crop_size;
  std::optional<data::Interpolation> interpolation;
  std::optional<std::array<float, 3>> mean;
  std::optional<std::array<float, 3>> std;
};

struct PreprocessingChoice {
  PreprocessingBase base = PreprocessingBase::kGuide;
  PreprocessingOverrides overrides;
};

// Names of the fields `overrides` sets, in PreprocessOptions' order, as the model store and
// --json spell them: "resize_size", "crop_size", "interpolation", "mean", "std".
std::vector<std::string> overridden_fields(const PreprocessingOverrides& overrides);

// The preset of `arch` as PreprocessOptions (its mean/std rounded to float, as torchvision's
// Normalize does), or nullopt when `arch` has no registry row (--arch torchscript, an unknown
// name).
std::optional<data::PreprocessOptions> preset_preprocessing(const std::string& arch);

// What runs for `arch`: the base's options, then the overrides. With kModel and an `arch`
// without a preset, throws Error(kInvalidArgument) "<what> model: ..." saying that --arch
// torchscript has no preset and how to give the sizes instead (for "torchscript"), or
// models::arch_spec's Error(kNotFound) listing the known names (for an unknown name).
data::PreprocessOptions resolve_preprocessing(const PreprocessingChoice& choice,
                                              const std::string& arch,
                                              const std::string& what = "--preprocessing");

// "guide" or "model", followed by " with crop_size, mean" naming the overridden fields.
std::string describe_choice(const PreprocessingChoice& choice);

// "resize 256, crop 224, bilinear", with ", mean [..], std [..]" when `with_normalize`.
std::string describe_preprocessing(const data::PreprocessOptions& options, bool with_normalize);

// The line validate prints when `arch`'s preset differs from `running` (what resolve_preprocessing
// gave for `choice`): "<arch>'s weights were trained with <preset>; running <running> (<hint>)",
// the hint saying how to get the preset (base guide: "--preprocessing model [without <flags>]
// selects the preset") or which flags replace its fields (base model).
// Mean and std appear only when they differ. "" when they agree or `arch` has no preset.
std::string preset_note(const std::string& arch, const PreprocessingChoice& choice,
                        const data::PreprocessOptions& running);

}  // namespace ptinfer::app
