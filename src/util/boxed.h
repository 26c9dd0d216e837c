// Boxed<T>: an optional value kept on the heap, one pointer wide while
// empty. For members that are mostly absent in what is held by the
// thousand (a cached device has no counters: only live listings carry
// them), where std::optional<T> would spend sizeof(T) on every one.
// Copies copy the value; comparison compares values, like std::optional.
#pragma once

#include <memory>
#include <optional>
#include <utility>

namespace netnsd {

template <class T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(std::nullopt_t) {}                                       // NOLINT: like std::optional
  Boxed(T value) : p_(std::make_unique<T>(std::move(value))) {}  // NOLINT
  Boxed(const Boxed& other) : p_(other.p_ ? std::make_unique<T>(*other.p_) : nullptr) {}
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(const Boxed& other) {
    if (this != &other) p_ = other.p_ ? std::make_unique<T>(*other.p_) : nullptr;
    return *this;
  }
  Boxed& operator=(Boxed&&) noexcept = default;
  Boxed& operator=(std::nullopt_t) {
    p_.reset();
    return *this;
  }
  ~Boxed() = default;

  bool has_value() const { return p_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  T& operator*() { return *p_; }
  const T& operator*() const { return *p_; }
  T* operator->() { return p_.get(); }
  const T* operator->() const { return p_.get(); }
  void reset() { p_.reset(); }

  friend bool operator==(const Boxed& a, const Boxed& b) { return a ? (b && *a == *b) : !b; }

 private:
  std::unique_ptr<T> p_;
};

}  // namespace netnsd
