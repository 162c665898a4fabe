// ptinfer's one error type. Everything below the CLI/server throws ptinfer::Error (or lets
// c10::Error through); the CLI turns the kind into an exit code and the server into an HTTP
// status. Messages name the file, key, field or variable at fault and say what was wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace ptinfer {

enum class ErrorKind {
  kInvalidArgument,  // a flag, environment value, option or request field is wrong
  kNotFound,         // a file, model, key or device that does not exist
  kCorruptData,      // a file or payload that cannot be parsed (image, checkpoint, JSON)
  kUnsupported,      // well-formed input that ptinfer does not handle (yet)
  kOverloaded,       // a bounded queue is full
  kInternal,         // a broken invariant: a bug in ptinfer
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Short lower-case name of a kind ("invalid argument", "not found", ...), for logs and JSON.
const char* error_kind_name(ErrorKind kind);

// Process exit code for a kind: 2 for invalid arguments (as for a bad flag), 1 for the rest.
int exit_code_for(ErrorKind kind);

}  // namespace ptinfer
