#include "api/dump_params.h"

#include <gtest/gtest.h>

namespace netnsd {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kForm = "application/x-www-form-urlencoded";

Result<DumpParams, ApiError> parse(const std::string& body, const ParamList& query = {}, const char* type = kJson) {
  return parse_dump_params(body, type, query);
}

std::string code_of(const Result<DumpParams, ApiError>& r) {
  return r ? "ok" : r.error().code;
}

TEST(DumpParams, EmptyRequestMeansDefaults) {
  for (const char* body : {"", "  \n", "{}"}) {
    auto p = parse(body);
    ASSERT_TRUE(p) << body;
    EXPECT_FALSE(p->request.snapshot_interfaces);
    EXPECT_FALSE(p->stream);
    EXPECT_EQ(p->format, DumpFormat::json);
    EXPECT_EQ(p->schema, DumpSchema::netnsd);
    EXPECT_FALSE(p->request.netns);
  }
}

TEST(DumpParams, ReadsEveryParameterFromJson) {
  auto p = parse(R"({"snapshot_interfaces": true, "output": "stream", "format": "dot",
                     "schema": "datadog", "netns": [4026531840, 4026532177]})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->request.snapshot_interfaces);
  EXPECT_TRUE(p->stream);
  EXPECT_EQ(p->format, DumpFormat::dot);
  EXPECT_EQ(p->schema, DumpSchema::datadog);
  EXPECT_EQ(*p->request.netns, (std::vector<NetnsId>{4026531840u, 4026532177u}));
}

TEST(DumpParams, IncludeTakesItsNamesFromJsonTheQueryAndForms) {
  auto all = parse(R"({"include":["routes","neighbours","sockets","conntrack","firewall"]})");
  ASSERT_TRUE(all) << all.error().message;
  const DumpIncludes& inc = all->request.include;
  EXPECT_TRUE(inc.routes && inc.neighbours && inc.sockets && inc.conntrack && inc.firewall);
  auto some = parse("", {{"include", "routes,conntrack"}, {"include", "sockets"}});
  ASSERT_TRUE(some) << some.error().message;
  EXPECT_TRUE(some->request.include.routes && some->request.include.conntrack && some->request.include.sockets);
  EXPECT_FALSE(some->request.include.neighbours || some->request.include.firewall);
  auto one = parse(R"({"include":"firewall"})");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->request.include.firewall);
  auto form = parse("include=neighbours&output=stream", {}, kForm);
  ASSERT_TRUE(form);
  EXPECT_TRUE(form->request.include.neighbours);
  // None: the dump stays what it was.
  EXPECT_FALSE(parse("{}")->request.include.any());
}

TEST(DumpParams, IncludeRefusesUnknownNamesThePastAndTheDatadogSchema) {
  EXPECT_EQ(code_of(parse(R"({"include":["routes","sessions"]})")), "invalid_value");
  EXPECT_EQ(code_of(parse(R"({"include":[1]})")), "invalid_type");
  EXPECT_EQ(code_of(parse("", {{"include", ""}})), "invalid_value");
  EXPECT_EQ(code_of(parse(R"({"include":"routes","at":"-1m"})")), "include_has_no_past");
  EXPECT_EQ(code_of(parse(R"({"include":"routes","schema":"datadog"})")), "include_needs_netnsd_schema");
  EXPECT_EQ(code_of(parse(R"({"include":"routes"})", {{"include", "sockets"}})), "duplicate_parameter");
}

TEST(DumpParams, ReadsEveryParameterFromTheQuery) {
  auto p = parse(
      "",
      {{"snapshot_interfaces", "1"}, {"output", "stream"}, {"format", "json"}, {"netns", "10,20"}, {"netns", "30"}});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->request.snapshot_interfaces);
  EXPECT_TRUE(p->stream);
  EXPECT_EQ(*p->request.netns, (std::vector<NetnsId>{10, 20, 30}));
  EXPECT_TRUE(parse("", {{"snapshot_interfaces", ""}})->request.snapshot_interfaces);
  EXPECT_FALSE(parse("", {{"snapshot_interfaces", "false"}})->request.snapshot_interfaces);
}

TEST(DumpParams, AcceptsFormBodiesAndJsonSentAsAForm) {
  auto form = parse("snapshot_interfaces=true&schema=datadog", {}, kForm);
  ASSERT_TRUE(form) << form.error().message;
  EXPECT_TRUE(form->request.snapshot_interfaces);
  EXPECT_EQ(form->schema, DumpSchema::datadog);
  // `curl -d '{...}'` labels JSON as a form.
  auto json = parse(R"({"snapshot_interfaces": true})", {}, kForm);
  ASSERT_TRUE(json);
  EXPECT_TRUE(json->request.snapshot_interfaces);
}

TEST(DumpParams, NullMeansNotGiven) {
  auto p = parse(R"({"output": null, "netns": null})");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->stream);
  EXPECT_FALSE(p->request.netns);
}

TEST(DumpParams, RefusesMalformedJson) {
  auto p = parse("{\"snapshot_interfaces\": tru");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().status, 400);
  EXPECT_EQ(p.error().code, "malformed_json");
  EXPECT_NE(p.error().message.find("column"), std::string::npos) << p.error().message;
}

TEST(DumpParams, RefusesBodiesThatAreNotObjects) {
  EXPECT_EQ(code_of(parse("[1,2]")), "invalid_body");
  EXPECT_EQ(code_of(parse("true")), "invalid_body");
  EXPECT_EQ(code_of(parse("[1]", {}, kForm)), "invalid_body");
}

TEST(DumpParams, RefusesWrongTypes) {
  EXPECT_EQ(code_of(parse(R"({"snapshot_interfaces": "true"})")), "invalid_type");
  EXPECT_EQ(code_of(parse(R"({"snapshot_interfaces": 1})")), "invalid_type");
  EXPECT_EQ(code_of(parse(R"({"output": 3})")), "invalid_type");
  EXPECT_EQ(code_of(parse(R"({"schema": ["datadog"]})")), "invalid_type");
}

TEST(DumpParams, RefusesUnknownValuesAndParameters) {
  EXPECT_EQ(code_of(parse(R"({"output": "disk"})")), "invalid_value");
  EXPECT_EQ(code_of(parse(R"({"schema": "falco"})")), "invalid_value");
  EXPECT_EQ(code_of(parse(R"({"output": "stream", "format": "gif"})")), "invalid_value");
  auto svg = parse(R"({"output": "stream", "format": "svg"})");
  ASSERT_TRUE(svg);
  EXPECT_EQ(svg->format, DumpFormat::svg);
  auto png = parse("", {{"output", "stream"}, {"format", "png"}});
  ASSERT_TRUE(png);
  EXPECT_EQ(png->format, DumpFormat::png);
  EXPECT_EQ(code_of(parse("", {{"snapshot_interfaces", "maybe"}})), "invalid_value");
  auto unknown = parse(R"({"snapshot": true})");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "unknown_parameter");
  EXPECT_NE(unknown.error().message.find("'snapshot'"), std::string::npos);
  EXPECT_EQ(code_of(parse("", {{"verbose", "1"}})), "unknown_parameter");
}

TEST(DumpParams, FormatNeedsStreamOutput) {
  EXPECT_EQ(code_of(parse(R"({"format": "dot"})")), "format_requires_stream");
  EXPECT_EQ(code_of(parse(R"({"output": "files", "format": "json"})")), "format_requires_stream");
  EXPECT_EQ(code_of(parse("", {{"format", "dot"}})), "format_requires_stream");
}

TEST(DumpParams, AtIsTakenAsGivenAndCannotGoWithASnapshot) {
  auto text = parse(R"({"at": "-15m", "output": "stream"})");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->at, "-15m");
  auto seq = parse(R"({"at": 1234})");
  ASSERT_TRUE(seq);
  EXPECT_EQ(seq->at, "1234") << "a JSON integer is a sequence number";
  auto query = parse("", {{"at", "2026-12-06T02:14:00Z"}});
  ASSERT_TRUE(query);
  EXPECT_EQ(query->at, "2026-12-06T02:14:00Z");
  EXPECT_FALSE(parse("{}")->at);
  EXPECT_EQ(code_of(parse(R"({"at": "-1m", "snapshot_interfaces": true})")), "at_with_snapshot");
  EXPECT_EQ(code_of(parse("", {{"at", "-1m"}, {"snapshot_interfaces", "true"}})), "at_with_snapshot");
  EXPECT_EQ(code_of(parse(R"({"at": true})")), "invalid_type");
  EXPECT_EQ(code_of(parse(R"({"at": -5})")), "invalid_type");
  EXPECT_EQ(code_of(parse(R"({"at": "-1m"})", {{"at", "-2m"}})), "duplicate_parameter");
  EXPECT_EQ(code_of(parse("", {{"at", "-1m"}, {"at", "-2m"}})), "duplicate_parameter");
}

TEST(DumpParams, RefusesBadNetnsValues) {
  for (const char* body :
       {R"({"netns": [-1]})", R"({"netns": [0]})", R"({"netns": [4294967296]})", R"({"netns": ["4026531840"]})",
        R"({"netns": [1.5]})", R"({"netns": [[1]]})", R"({"netns": "abc"})", R"({"netns": {"a": 1}})"}) {
    auto p = parse(body);
    ASSERT_FALSE(p) << body;
    EXPECT_EQ(p.error().code, "invalid_netns") << body;
  }
  for (const char* value : {"abc", "-5", "0", "1,,2", "99999999999", ""}) {
    EXPECT_EQ(code_of(parse("", {{"netns", value}})), "invalid_netns") << value;
  }
  auto single = parse(R"({"netns": 4026531840})");
  ASSERT_TRUE(single);
  EXPECT_EQ(*single->request.netns, std::vector<NetnsId>{4026531840u});
}

TEST(DumpParams, RefusesAParameterGivenTwice) {
  EXPECT_EQ(code_of(parse(R"({"output": "stream"})", {{"output", "stream"}})), "duplicate_parameter");
  EXPECT_EQ(code_of(parse("", {{"schema", "netnsd"}, {"schema", "datadog"}})), "duplicate_parameter");
}

// nlohmann would keep the last of two keys, a proxy might check the first.
TEST(DumpParams, RefusesAJsonKeyGivenTwice) {
  auto twice = parse(R"({"output":"stream","output":"files"})");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, "duplicate_parameter");
  EXPECT_NE(twice.error().message.find("'output'"), std::string::npos) << twice.error().message;
  EXPECT_EQ(code_of(parse(R"({"netns": [1], "schema": "netnsd", "netns": [2]})")), "duplicate_parameter");
  EXPECT_EQ(code_of(parse(R"({"output": "stream", "schema": "netnsd"})")), "ok") << "distinct keys are fine";
  EXPECT_EQ(code_of(parse(R"({"output":"stream","output":"stream"})")), "duplicate_parameter")
      << "even with the same value";
}

TEST(DumpParams, ParseFormDecodesPercentAndPlus) {
  auto list = parse_form("a=x%20y&b=1+2&c&=e&%zz=1");
  ASSERT_EQ(list.size(), 5u);
  EXPECT_EQ(list[0], (std::pair<std::string, std::string>{"a", "x y"}));
  EXPECT_EQ(list[1].second, "1 2");
  EXPECT_EQ(list[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ(list[3].first, "");
  EXPECT_EQ(list[4].first, "%zz");
}

}  // namespace
}  // namespace netnsd
