#include "app/preprocessing.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/registry.h"

namespace ptinfer::app {
namespace {

// The registry's presets (registry_test checks them against torchvision's DEFAULT weights):
// resnet18 declares the guide's numbers, shufflenet_v2_x1_5 Resize(232), efficientnet_b0 the
// guide's sizes with bicubic, regnet_y_128gf Resize(384, bicubic) + CenterCrop(384).

void expect_same(const data::PreprocessOptions& a, const data::PreprocessOptions& b) {
  EXPECT_EQ(a.resize_size, b.resize_size);
  EXPECT_EQ(a.crop_size, b.crop_size);
  EXPECT_EQ(a.interpolation, b.interpolation);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.std, b.std);
}

std::string error_of(const PreprocessingChoice& choice, const std::string& arch, ErrorKind kind) {
  try {
    resolve_preprocessing(choice, arch);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e.what();
  }
  ADD_FAILURE() << arch << " resolved";
  return "";
}

TEST(Preprocessing, GuideIsTheSameForEveryArchitecture) {
  PreprocessingChoice guide;
  for (const char* arch : {"resnet18", "shufflenet_v2_x1_5", "regnet_y_128gf", "torchscript",
                           "no_such_arch"}) {
    expect_same(resolve_preprocessing(guide, arch), data::PreprocessOptions{});
  }
}

TEST(Preprocessing, ModelTakesTheRegistryPreset) {
  PreprocessingChoice model{PreprocessingBase::kModel, {}};
  for (const std::string& arch : models::model_names()) {
    SCOPED_TRACE(arch);
    const models::PresetPreprocessing& preset = models::arch_spec(arch).preset;
    data::PreprocessOptions p = resolve_preprocessing(model, arch);
    EXPECT_EQ(p.resize_size, preset.resize_size);
    EXPECT_EQ(p.crop_size, preset.crop_size);
    EXPECT_STREQ(data::interpolation_name(p.interpolation), preset.interpolation.c_str());
    for (int c = 0; c < 3; ++c) {
      EXPECT_EQ(p.mean[c], static_cast<float>(preset.mean[c]));
      EXPECT_EQ(p.std[c], static_cast<float>(preset.std[c]));
    }
  }
  data::PreprocessOptions big = resolve_preprocessing(model, "regnet_y_128gf");
  EXPECT_EQ(big.resize_size, 384);
  EXPECT_EQ(big.crop_size, 384);
  EXPECT_EQ(big.interpolation, data::Interpolation::kBicubic);
  EXPECT_EQ(resolve_preprocessing(model, "shufflenet_v2_x1_5").resize_size, 232);
  data::PreprocessOptions b0 = resolve_preprocessing(model, "efficientnet_b0");
  EXPECT_EQ(b0.resize_size, 256);
  EXPECT_EQ(b0.crop_size, 224);
  EXPECT_EQ(b0.interpolation, data::Interpolation::kBicubic);
  // The guide's ImageNet mean/std, as floats.
  EXPECT_EQ(big.mean, data::PreprocessOptions{}.mean);
  EXPECT_EQ(big.std, data::PreprocessOptions{}.std);
}

TEST(Preprocessing, ExplicitFieldsWinFieldByField) {
  PreprocessingOverrides crop_only;
  crop_only.crop_size = 200;
  data::PreprocessOptions p =
      resolve_preprocessing({PreprocessingBase::kModel, crop_only}, "regnet_y_128gf");
  EXPECT_EQ(p.resize_size, 384);  // the preset's
  EXPECT_EQ(p.crop_size, 200);
  EXPECT_EQ(p.interpolation, data::Interpolation::kBicubic);
  p = resolve_preprocessing({PreprocessingBase::kGuide, crop_only}, "regnet_y_128gf");
  EXPECT_EQ(p.resize_size, 256);  // the guide's
  EXPECT_EQ(p.crop_size, 200);
  EXPECT_EQ(p.interpolation, data::Interpolation::kBilinear);

  PreprocessingOverrides all;
  all.resize_size = 0;
  all.crop_size = 32;
  all.interpolation = data::Interpolation::kBilinear;
  all.mean = std::array<float, 3>{0.5f, 0.5f, 0.5f};
  all.std = std::array<float, 3>{0.25f, 0.5f, 1.0f};
  for (PreprocessingBase base : {PreprocessingBase::kGuide, PreprocessingBase::kModel}) {
    p = resolve_preprocessing({base, all}, "regnet_y_128gf");
    EXPECT_EQ(p.resize_size, 0);
    EXPECT_EQ(p.crop_size, 32);
    EXPECT_EQ(p.interpolation, data::Interpolation::kBilinear);
    EXPECT_EQ(p.mean, (std::array<float, 3>{0.5f, 0.5f, 0.5f}));
    EXPECT_EQ(p.std, (std::array<float, 3>{0.25f, 0.5f, 1.0f}));
  }
  // With every field explicit, torchscript needs no preset.
  EXPECT_EQ(resolve_preprocessing({PreprocessingBase::kGuide, all}, "torchscript").crop_size, 32);
  EXPECT_EQ(overridden_fields(all),
            (std::vector<std::string>{"resize_size", "crop_size", "interpolation", "mean", "std"}));
  EXPECT_EQ(overridden_fields(crop_only), std::vector<std::string>{"crop_size"});
  EXPECT_TRUE(overridden_fields({}).empty());
}

TEST(Preprocessing, ModelWithoutAPresetIsAnError) {
  PreprocessingChoice model{PreprocessingBase::kModel, {}};
  std::string message = error_of(model, "torchscript", ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("--preprocessing model"), std::string::npos) << message;
  EXPECT_NE(message.find("--arch torchscript has no preset"), std::string::npos) << message;
  message = error_of(model, "resnet19", ErrorKind::kNotFound);
  EXPECT_NE(message.find("resnet19"), std::string::npos) << message;
  EXPECT_NE(message.find("resnet18"), std::string::npos) << message;  // the known names
  EXPECT_FALSE(preset_preprocessing("torchscript"));
}

TEST(Preprocessing, BaseNames) {
  EXPECT_EQ(parse_preprocessing_base("guide", "--preprocessing"), PreprocessingBase::kGuide);
  EXPECT_EQ(parse_preprocessing_base("Model", "--preprocessing"), PreprocessingBase::kModel);
  EXPECT_STREQ(preprocessing_base_name(PreprocessingBase::kModel), "model");
  try {
    parse_preprocessing_base("preset", "--preprocessing");
    ADD_FAILURE() << "preset accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_STREQ(e.what(), "--preprocessing must be guide or model, got 'preset'");
  }
}

TEST(Preprocessing, NoteWhenThePresetDiffersFromWhatRuns) {
  PreprocessingChoice guide;
  EXPECT_EQ(preset_note("regnet_y_128gf", guide, resolve_preprocessing(guide, "regnet_y_128gf")),
            "regnet_y_128gf's weights were trained with resize 384, crop 384, bicubic; running "
            "resize 256, crop 224, bilinear (--preprocessing model selects the preset)");
  EXPECT_EQ(preset_note("efficientnet_b0", guide, resolve_preprocessing(guide, "efficientnet_b0")),
            "efficientnet_b0's weights were trained with resize 256, crop 224, bicubic; running "
            "resize 256, crop 224, bilinear (--preprocessing model selects the preset)");
  // resnet18's weights declare the guide's numbers; torchscript has no preset.
  EXPECT_EQ(preset_note("resnet18", guide, resolve_preprocessing(guide, "resnet18")), "");
  EXPECT_EQ(preset_note("torchscript", guide, data::PreprocessOptions{}), "");

  PreprocessingChoice model{PreprocessingBase::kModel, {}};
  EXPECT_EQ(preset_note("shufflenet_v2_x1_5", model,
                        resolve_preprocessing(model, "shufflenet_v2_x1_5")),
            "");
  model.overrides.crop_size = 200;
  model.overrides.mean = std::array<float, 3>{0.5f, 0.5f, 0.5f};
  EXPECT_EQ(preset_note("shufflenet_v2_x1_5", model,
                        resolve_preprocessing(model, "shufflenet_v2_x1_5")),
            "shufflenet_v2_x1_5's weights were trained with resize 232, crop 224, bilinear, mean "
            "[0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]; running resize 232, crop 200, "
            "bilinear, mean [0.5, 0.5, 0.5], std [0.229, 0.224, 0.225] (--crop-size, --mean "
            "replacing the preset's)");
  PreprocessingChoice small{PreprocessingBase::kGuide, {}};
  small.overrides.resize_size = 32;
  small.overrides.crop_size = 32;
  EXPECT_EQ(preset_note("resnet18", small, resolve_preprocessing(small, "resnet18")),
            "resnet18's weights were trained with resize 256, crop 224, bilinear; running resize "
            "32, crop 32, bilinear (--preprocessing model without --resize-size, --crop-size "
            "selects the preset)");
  // Explicit values equal to the preset's: nothing to say.
  PreprocessingChoice same{PreprocessingBase::kGuide, {}};
  same.overrides.resize_size = 232;
  EXPECT_EQ(preset_note("shufflenet_v2_x1_5", same,
                        resolve_preprocessing(same, "shufflenet_v2_x1_5")),
            "");
}

TEST(Preprocessing, Describe) {
  PreprocessingChoice choice{PreprocessingBase::kModel, {}};
  EXPECT_EQ(describe_choice(choice), "model");
  choice.overrides.crop_size = 200;
  choice.overrides.std = std::array<float, 3>{1, 1, 1};
  EXPECT_EQ(describe_choice(choice), "model with crop_size, std");
  data::PreprocessOptions p;
  EXPECT_EQ(describe_preprocessing(p, false), "resize 256, crop 224, bilinear");
  p.resize_size = 0;
  p.interpolation = data::Interpolation::kBicubic;
  EXPECT_EQ(describe_preprocessing(p, true),
            "no resize, crop 224, bicubic, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]");
}

}  // namespace
}  // namespace ptinfer::app
