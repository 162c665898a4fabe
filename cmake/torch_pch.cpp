// The translation unit that builds the shared precompiled torch/torch.h (see torch_pch.h).
#include "common/torch_pch.h"
