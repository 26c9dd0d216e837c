#include "util/json_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace netnsd {
namespace {

using nlohmann::json;

TEST(JsonWriter, WritesNestedValuesIndentedLikeNlohmann) {
  JsonWriter out;
  out.begin_object()
      .field("a", 1)
      .field("b", std::uint64_t{4294967295u})
      .field("c", std::int64_t{-5})
      .field("d", true)
      .field("e", std::optional<int>())
      .key("f")
      .begin_array()
      .value("x")
      .begin_object()
      .end_object()
      .begin_array()
      .end_array()
      .end_array()
      .end_object();
  std::string text = out.take();
  json expected = {{"a", 1},    {"b", 4294967295u}, {"c", -5},
                   {"d", true}, {"e", nullptr},     {"f", json::array({"x", json::object(), json::array()})}};
  EXPECT_EQ(json::parse(text), expected);
  EXPECT_EQ(text, expected.dump(2) + "\n") << "same layout as nlohmann's dump(2)";
}

TEST(JsonWriter, CompactHasNoWhitespace) {
  JsonWriter out(false);
  out.begin_object().field("k", "v").key("l").begin_array().value(1).value(2).end_array().end_object();
  EXPECT_EQ(out.take(), "{\"k\":\"v\",\"l\":[1,2]}\n");
}

TEST(JsonWriter, EscapesAndRepairsStrings) {
  std::string s;
  append_json_string(s, std::string("q\"b\\n\n\t\x01\x7f", 9));
  EXPECT_EQ(s, "\"q\\\"b\\\\n\\n\\t\\u0001\x7f\"");
  s.clear();
  append_json_string(s, "caf\xc3\xa9 \xff");
  EXPECT_EQ(s, "\"caf\xc3\xa9 \xef\xbf\xbd\"");
  EXPECT_TRUE(json::accept(s));
}

}  // namespace
}  // namespace netnsd
