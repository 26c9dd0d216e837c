// JsonWriter: JSON written straight into a string.
//
// The dump is the one large document netnsd makes (megabytes at thousands
// of namespaces). Building it as a nlohmann tree first cost ~10x its size in
// small allocations, which glibc then keeps as resident memory; this writes
// the text directly. Strings are made valid UTF-8 (see sanitize_utf8) and
// escaped. Output is indented by two spaces like nlohmann's dump(2), or
// compact.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netnsd {

class JsonWriter {
 public:
  explicit JsonWriter(bool pretty = true) : pretty_(pretty) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
  JsonWriter& value(bool b);
  JsonWriter& value(std::int64_t n);
  JsonWriter& value(std::uint64_t n);
  JsonWriter& value(int n) { return value(static_cast<std::int64_t>(n)); }
  JsonWriter& value(unsigned n) { return value(static_cast<std::uint64_t>(n)); }
  JsonWriter& null();
  template <class T>
  JsonWriter& value(const std::optional<T>& v) {
    return v ? value(*v) : null();
  }

  // Shorthand for key(name).value(v).
  template <class T>
  JsonWriter& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

  // The text, with a final newline; the writer is empty afterwards.
  std::string take();
  void reserve(std::size_t bytes) { out_.reserve(bytes); }

 private:
  void before_value();
  void open(char bracket);
  void close(char bracket);
  void newline_indent();

  std::string out_;
  bool pretty_;
  std::vector<int> counts_;  // values written so far at each open level
  bool after_key_ = false;
};

// Appends `text` as a JSON string literal (quoted, escaped, valid UTF-8).
void append_json_string(std::string& out, std::string_view text);

}  // namespace netnsd
