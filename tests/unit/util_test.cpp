#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <random>
#include <string_view>
#include <vector>

#include "system.h"
#include "util/boxed.h"
#include "util/clock.h"
#include "util/result.h"
#include "util/sha256.h"
#include "util/text.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;

TEST(Clock, FormatsRfc3339WithMilliseconds) {
  WallTime t = WallTime(std::chrono::seconds(1'800'000'000)) + 7ms;
  EXPECT_EQ(format_rfc3339_ms(t), "2027-01-15T08:00:00.007Z");
}

TEST(Clock, ParsesRfc3339AndRefusesWhatIsNot) {
  auto t = parse_rfc3339("2026-12-06T02:14:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339_ms(*t), "2026-12-06T02:14:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(*parse_rfc3339("2026-12-06t03:14:00.25+01:00")), "2026-12-06T02:14:00.250Z");
  EXPECT_EQ(format_rfc3339_ms(*parse_rfc3339("2026-12-06 01:44:00.123456789-00:30")), "2026-12-06T02:14:00.123Z");
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z")) << "a leap day";
  for (const char* bad :
       {"", "2026-12-06", "2026-12-06T02:14Z", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-12-06T24:00:00Z",
        "2026-12-06T02:14:60Z", "2026-12-06T02:14:00", "2026-12-06T02:14:00.Z", "2026-12-06T02:14:00+1:00",
        "2026-12-06T02:14:00Zjunk", "20261206T021400Z"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
  EXPECT_EQ(*parse_rfc3339("2999-01-01T00:00:00Z"), WallTime::max()) << "past 64-bit nanoseconds: later than anything";
  EXPECT_EQ(*parse_rfc3339("1900-01-01T00:00:00Z"), WallTime{});
}

// Against coreutils' sha256sum, across the block boundaries.
TEST(Sha256, AgreesWithSha256sum) {
  testing::TempDir dir;
  std::mt19937 rng(42);
  for (std::size_t size : {0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 1 << 20}) {
    std::string data(size, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    const std::string path = dir.path() + "/data";
    std::ofstream(path, std::ios::binary) << data;
    auto oracle = testing::run({"sha256sum", path});
    ASSERT_EQ(oracle.status, 0);
    Sha256 whole;
    whole.update(data);
    Sha256 pieces;
    for (std::size_t at = 0; at < size; at += 7) pieces.update(std::string_view(data).substr(at, 7));
    const std::string expected = oracle.out.substr(0, 64);
    EXPECT_EQ(whole.hex(), expected) << size << " bytes";
    EXPECT_EQ(pieces.hex(), expected) << size << " bytes, in pieces";
  }
}

TEST(Clock, FormatsLikeGo) {
  WallTime t = WallTime(std::chrono::seconds(1'800'000'000));
  EXPECT_EQ(format_rfc3339_go(t, false), "2027-01-15T08:00:00Z");
  EXPECT_EQ(format_rfc3339_go(t + 120ms, false), "2027-01-15T08:00:00.12Z");
  EXPECT_EQ(format_rfc3339_go(t, true), "0001-01-01T00:00:00Z");
}

TEST(Text, KeepsValidUtf8) {
  EXPECT_EQ(sanitize_utf8("plain"), "plain");
  EXPECT_EQ(sanitize_utf8("caf\xC3\xA9 \xF0\x9F\x90\xA7"), "caf\xC3\xA9 \xF0\x9F\x90\xA7");
}

TEST(Text, ReplacesInvalidUtf8) {
  EXPECT_EQ(sanitize_utf8("a\xff"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitize_utf8("\xC3"), "\xEF\xBF\xBD") << "truncated sequence";
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD") << "overlong '/'";
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "surrogate";
}

TEST(Text, EscapesWhatAClientSentBeforeItIsLogged) {
  EXPECT_EQ(escape_for_log("/v1/namespaces/blue"), "/v1/namespaces/blue");
  EXPECT_EQ(escape_for_log("/x\nFAKE LOG LINE"), "/x\\x0aFAKE LOG LINE") << "no forged log lines";
  EXPECT_EQ(escape_for_log("/\x1b[31mred"), "/\\x1b[31mred") << "no terminal escapes";
  EXPECT_EQ(escape_for_log("a\"b\\c"), "a\\x22b\\x5cc");
  EXPECT_EQ(escape_for_log("caf\xc3\xa9 \xff"), "caf\xc3\xa9 \\xff") << "valid UTF-8 kept, the rest shown";
  EXPECT_EQ(escape_for_log(std::string(300, 'a')), std::string(256, 'a') + "...");
}

TEST(Text, SplitsLinesWithoutAnEmptyOneAfterTheLastNewline) {
  using Lines = std::vector<std::string_view>;
  EXPECT_EQ(split_lines(""), Lines{});
  EXPECT_EQ(split_lines("a"), Lines{"a"});
  EXPECT_EQ(split_lines("a\n"), Lines{"a"});
  EXPECT_EQ(split_lines("a\n\nb"), (Lines{"a", "", "b"}));
  EXPECT_EQ(split_lines("\n"), Lines{""});
}

TEST(Text, SplitsCommaListsTrimmedKeepingEmptyItems) {
  using Items = std::vector<std::string>;
  EXPECT_EQ(split_commas(""), Items{""});
  EXPECT_EQ(split_commas("1"), Items{"1"});
  EXPECT_EQ(split_commas(" 1 , 2 "), (Items{"1", "2"}));
  EXPECT_EQ(split_commas("1,,2"), (Items{"1", "", "2"}));
  EXPECT_EQ(split_commas("1,"), (Items{"1", ""}));
}

TEST(Result, CarriesValueOrErrnoWithContext) {
  Result<int> good = 5;
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 5);
  Result<int> bad = Error::os("open /nowhere", ENOENT);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ENOENT);
  EXPECT_EQ(bad.error().message(), "open /nowhere: No such file or directory");
  Status st = Error::logic("plain sentence");
  EXPECT_EQ(st.error().message(), "plain sentence");
}

// What Device::stats relies on: std::optional's meaning, a pointer's size.
TEST(Boxed, BehavesLikeAnOptionalThatKeepsItsValueOnTheHeap) {
  static_assert(sizeof(Boxed<std::array<std::uint64_t, 8>>) == sizeof(void*));
  Boxed<std::string> empty;
  EXPECT_FALSE(empty);
  EXPECT_EQ(empty, std::nullopt);
  Boxed<std::string> a = std::string("counters");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, "counters");
  EXPECT_EQ(a->size(), 8u);
  Boxed<std::string> copy = a;  // a copy of the value, not of the pointer
  ASSERT_TRUE(copy);
  EXPECT_NE(&*copy, &*a);
  EXPECT_EQ(copy, a);
  *copy += "!";
  EXPECT_NE(copy, a);
  EXPECT_EQ(*a, "counters");
  Boxed<std::string> moved = std::move(copy);
  EXPECT_EQ(*moved, "counters!");
  a = std::nullopt;
  EXPECT_FALSE(a);
  EXPECT_NE(a, moved);
  a = moved;
  EXPECT_EQ(a, moved);
  a.reset();
  EXPECT_EQ(a, empty);
}

}  // namespace
}  // namespace netnsd
