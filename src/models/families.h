// Every family's table of architectures; registry.cpp concatenates them. Adding an architecture
// of a family is one row in its function; adding a family is a file and a line here and in
// registry.cpp.
#pragma once

#include <vector>

#include "models/arch_spec.h"

namespace ptinfer::models {

std::vector<ArchSpec> convnext_archs();
std::vector<ArchSpec> maxvit_archs();
std::vector<ArchSpec> regnet_archs();
std::vector<ArchSpec> resnet_archs();
std::vector<ArchSpec> shufflenet_v2_archs();
std::vector<ArchSpec> mobilenet_v2_archs();
std::vector<ArchSpec> mobilenet_v3_archs();
std::vector<ArchSpec> mnasnet_archs();
std::vector<ArchSpec> efficientnet_archs();
std::vector<ArchSpec> swin_archs();
std::vector<ArchSpec> vit_archs();
std::vector<ArchSpec> alexnet_archs();
std::vector<ArchSpec> densenet_archs();
std::vector<ArchSpec> efficientnet_archs();
std::vector<ArchSpec> googlenet_archs();
std::vector<ArchSpec> inception_archs();
std::vector<ArchSpec> mnasnet_archs();
std::vector<ArchSpec> mobilenet_v2_archs();
std::vector<ArchSpec> mobilenet_v3_archs();
std::vector<ArchSpec> regnet_archs();
std::vector<ArchSpec> resnet_archs();
std::vector<ArchSpec> shufflenet_v2_archs();
std::vector<ArchSpec> squeezenet_archs();
std::vector<ArchSpec> vgg_archs();

}  // namespace ptinfer::models
