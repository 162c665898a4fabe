// What `ptinfer serve` serves: one ModelSpec per model, from a --model flag (this file) or a
// model-store folder (model_store.h). Every field the server needs per model lives here, so that
// models of one server may differ in preprocessing, precision and batching.
#pragma once

#include <string>

#include "amp/policy.h"
#include "app/preprocessing.h"
#include "data/preprocess.h"
#include "serve/batcher.h"

namespace ptinfer::serve {

struct ModelSpec {
  std::string name;            // [A-Za-z0-9_.-]+, the URL and metrics label
  std::string checkpoint;      // torch.save (or any format engine/ reads) file
  std::string checkpoint_key;  // where the weights sit in it; "" picks as timm
  std::string arch;            // registry name
  std::string labels;          // index_to_name.json or text file; "" for the checkpoint's classes
  amp::Policy amp;             // precision policy
  // How the preprocessing is chosen: the command line's --preprocessing and explicit flags, or a
  // model store config's "preprocessing" (model_store.h).
  app::PreprocessingChoice preprocessing;
  // What image inputs get: app::resolve_preprocessing of `preprocessing` for `arch`, set by
  // parse_model_spec and read_model_config.
  data::PreprocessOptions preprocess;
  BatcherOptions batching;
  std::string source;  // where the spec came from, for messages: "--model NAME" or a config path
};

// True for a non-empty name of letters, digits, '_', '-' and '.' only.
bool valid_model_name(const std::string& name);

// Parses a --model NAME=CHECKPOINT[,arch=ARCH,labels=FILE] value; every field it does not name
// is taken from `defaults` (the command line's -a, preprocessing, --amp and batching flags), and
// `preprocess` resolved from defaults.preprocessing for the model's arch (--preprocessing model:
// that arch's preset). Throws Error(kInvalidArgument) quoting the value for a missing '=', an
// empty or invalid name or checkpoint, an empty value or an unknown key; and what
// resolve_spec_preprocessing throws.
ModelSpec parse_model_spec(const std::string& text, const ModelSpec& defaults);

// Sets spec.preprocess to app::resolve_preprocessing(spec.preprocessing, spec.arch, what).
// Rethrows its errors as Error(kInvalidArgument) starting with spec.source.
void resolve_spec_preprocessing(ModelSpec& spec, const std::string& what);

}  // namespace ptinfer::serve
