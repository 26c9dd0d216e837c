// Errors as values at OS boundaries.
//
// Error carries the errno (0 when the failure is not an OS error) and a
// sentence of context ("open /proc/42/task/42/ns/net"). Result<T> holds either
// a T or an Error; Status is Result without a value. Exceptions are kept for
// fatal start-up errors only.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace netnsd {

struct Error {
  int code = 0;         // errno, or 0 when not an OS error
  std::string context;  // what was being attempted

  // "context: strerror(code)", or just the context when code is 0.
  std::string message() const {
    if (code == 0) return context;
    return context + ": " + std::strerror(code);
  }

  static Error os(std::string context, int code = errno) { return Error{code, std::move(context)}; }
  static Error logic(std::string context) { return Error{0, std::move(context)}; }
};

// E is the error type: Error at OS boundaries, ApiError in the HTTP layer.
template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  static Status success() { return Status(); }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace netnsd
