// `ptinfer convert IN OUT.safetensors`: a checkpoint's state dict (as validate would load it:
// wrapper key chosen, prefixes removed) written as safetensors, which Python's safetensors and
// PyTorch users read without unpickling anything.
#include <iostream>
#include <memory>

#include "checkpoint/checkpoint.h"
#include "checkpoint/safetensors.h"
#include "cli/commands.h"
#include "common/error.h"

namespace ptinfer::cli {
namespace {

struct ConvertFlags {
  std::string input;
  std::string output;
  std::string checkpoint_key;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

CommandRunner add_convert_command(CLI::App& app) {
  auto flags = std::make_shared<ConvertFlags>();
  CLI::App* cmd = app.add_subcommand("convert", "Write a checkpoint's state dict as safetensors");
  cmd->add_option("input", flags->input, "checkpoint (torch.save zip or legacy, safetensors)")
      ->required();
  cmd->add_option("output", flags->output, "OUT.safetensors")->required();
  cmd->add_option("--checkpoint-key", flags->checkpoint_key,
                  "top-level key holding the state dict (default: state_dict_ema, model_ema, "
                  "state_dict, model, as timm picks)");
  return [cmd, flags](const runtime::RuntimeConfig&) -> int {
    if (!cmd->parsed()) return -1;
    if (!ends_with(flags->output, ".safetensors")) {
      throw Error(ErrorKind::kInvalidArgument,
                  "convert: output '" + flags->output + "' must end in .safetensors");
    }
    checkpoint::LoadOptions options;
    options.checkpoint_key = flags->checkpoint_key;
    checkpoint::Checkpoint ckpt = checkpoint::load_checkpoint(flags->input, options);
    // safetensors' torch writer marks its files {"format": "pt"}; metadata values are strings.
    std::map<std::string, std::string> metadata = {{"format", "pt"}};
    if (ckpt.arch) metadata["arch"] = *ckpt.arch;
    if (ckpt.epoch) metadata["epoch"] = std::to_string(*ckpt.epoch);
    checkpoint::write_safetensors(ckpt.state_dict, metadata, flags->output);
    std::cout << "wrote " << ckpt.state_dict.size() << " tensors to " << flags->output << std::endl;
    return 0;
  };
}

}  // namespace ptinfer::cli
