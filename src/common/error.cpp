#include "common/error.h"

namespace ptinfer {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return "invalid argument";
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kCorruptData:
      return "corrupt data";
    case ErrorKind::kUnsupported:
      return "unsupported";
    case ErrorKind::kOverloaded:
      return "overloaded";
    case ErrorKind::kInternal:
      return "internal error";
  }
  return "error";
}

int exit_code_for(ErrorKind kind) { return kind == ErrorKind::kInvalidArgument ? 2 : 1; }

}  // namespace ptinfer
