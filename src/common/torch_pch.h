// Precompiled header for targets that use LibTorch: parsing torch/torch.h costs ~20 s per
// translation unit, so it is parsed once per target. Headers outside the TORCH targets must not
// include LibTorch (keep their compile times down).
#pragma once
#include <torch/torch.h>
