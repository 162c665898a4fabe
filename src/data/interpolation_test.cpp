// Interpolation names: torchvision's InterpolationMode values, and errors naming the flag.
#include "data/interpolation.h"

#include <gtest/gtest.h>

#include <string>

#include "common/error.h"

namespace ptinfer::data {
namespace {

TEST(Interpolation, ParsesTorchvisionNamesInAnyCase) {
  EXPECT_EQ(parse_interpolation("bilinear", "--interpolation"), Interpolation::kBilinear);
  EXPECT_EQ(parse_interpolation("bicubic", "--interpolation"), Interpolation::kBicubic);
  EXPECT_EQ(parse_interpolation("BICUBIC", "--interpolation"), Interpolation::kBicubic);
  for (Interpolation i : {Interpolation::kBilinear, Interpolation::kBicubic}) {
    EXPECT_EQ(parse_interpolation(interpolation_name(i), "x"), i);
  }
}

TEST(Interpolation, RejectsOtherNamesNamingTheFlagAndTheValue) {
  for (const char* bad : {"nearest", "lanczos", "", "bicubic "}) {
    try {
      parse_interpolation(bad, "--interpolation");
      ADD_FAILURE() << "'" << bad << "' was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_EQ(std::string(e.what()),
                "--interpolation must be bilinear or bicubic, got '" + std::string(bad) + "'");
    }
  }
}

}  // namespace
}  // namespace ptinfer::data
