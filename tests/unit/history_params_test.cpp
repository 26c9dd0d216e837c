#include "api/history_params.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace netnsd {
namespace {

using namespace std::chrono_literals;

const WallTime kNow = WallTime(std::chrono::seconds(1'800'000'000));  // 2027-01-15T08:00:00Z

std::string code_of(const Result<InstantParam, ApiError>& r) {
  return r ? "" : r.error().code;
}

TEST(HistoryParams, AnInstantIsATimeATimeAgoOrASequenceNumber) {
  auto t = parse_instant("at", "2027-01-15T07:00:00.5+01:00", kNow);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t->time, kNow - 2h + 500ms);
  auto ago = parse_instant("at", "-1h30m15s250ms", kNow);
  ASSERT_TRUE(ago);
  EXPECT_EQ(*ago->time, kNow - 1h - 30min - 15s - 250ms);
  EXPECT_EQ(*parse_instant("at", "-2d", kNow)->time, kNow - 48h);
  auto seq = parse_instant("at", "123456", kNow);
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq->seq, 123456u);
  EXPECT_FALSE(seq->time);
}

TEST(HistoryParams, BadInstantsAre400WithAStableCode) {
  for (const char* text : {"", "yesterday", "-", "-5", "-5x", "--5m", "2027-13-01T00:00:00Z", "2027-01-15",
                           "99999999999999999999999", "-1m-2m", "2027-01-15T07:00:00"}) {
    EXPECT_EQ(code_of(parse_instant("at", text, kNow)), "invalid_at") << text;
  }
  EXPECT_EQ(code_of(parse_instant("from", std::string(300, '1'), kNow)), "invalid_from") << "too long";
  EXPECT_EQ(code_of(parse_instant("at", "2027-01-15T08:00:02Z", kNow)), "at_in_future");
  EXPECT_TRUE(parse_instant("at", "2027-01-15T08:00:00.9Z", kNow)) << "within a second of now: clocks differ";
  EXPECT_EQ(code_of(parse_instant("to", "2999-01-01T00:00:00Z", kNow)), "at_in_future");
}

TEST(HistoryParams, ATimeAgoBeforeNineteenSeventyIsTheEpochNotAnOverflow) {
  // Found by tests/fuzz/history_params_fuzz: this overflowed nanoseconds.
  auto far = parse_instant("at", "-2d7700061d1851391ms", kNow);
  ASSERT_TRUE(far);
  EXPECT_EQ(*far->time, WallTime{});
  auto huge = parse_instant("at", "-999999999d999999999d999999999d999999999d", kNow);
  ASSERT_TRUE(huge);
  EXPECT_EQ(*huge->time, WallTime{});
}

TEST(HistoryParams, HistoryTakesOneSubjectAndAnIntervalInOrder) {
  auto p = parse_history_params({{"address", "10.244.3.17"}, {"from", "-1h"}, {"to", "-1m"}, {"after", "7"}}, kNow);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->subject->value, "10.244.3.17");
  EXPECT_EQ(p->after, 7u);
  auto code = [](const ParamList& q) {
    auto r = parse_history_params(q, kNow);
    return r ? std::string() : r.error().code;
  };
  EXPECT_EQ(code({{"from", "-1m"}, {"to", "-1h"}}), "reversed_interval");
  EXPECT_EQ(code({{"from", "-1m"}, {"from", "-2m"}}), "invalid_from");
  EXPECT_EQ(code({{"device", "a"}, {"address", "10.0.0.1"}}), "too_many_subjects");
  EXPECT_EQ(code({{"address", "10.0.0.300"}}), "invalid_address");
  EXPECT_EQ(code({{"mac", "aa:bb"}}), "invalid_mac");
  EXPECT_EQ(code({{"netns", "0"}}), "invalid_netns");
  EXPECT_EQ(code({{"after", "x"}}), "invalid_after");
  EXPECT_EQ(code({{"at", "-1m"}}), "unknown_parameter");
  EXPECT_EQ(code({{std::string(1 << 20, 'k'), "v"}}), "unknown_parameter");
}

TEST(HistoryParams, WhoisAndDiffSayWhatIsMissing) {
  auto whois = parse_whois_params({{"mac", "AA:BB:CC:DD:EE:FF"}, {"at", "-5m"}}, kNow);
  ASSERT_TRUE(whois);
  EXPECT_EQ(whois->subject.value, "aa:bb:cc:dd:ee:ff");
  EXPECT_EQ(parse_whois_params({}, kNow).error().code, "missing_subject");
  EXPECT_EQ(parse_whois_params({{"container", "x"}}, kNow).error().code, "unknown_parameter");

  auto diff = parse_diff_params({{"from", "-1h"}}, kNow);
  ASSERT_TRUE(diff);
  EXPECT_FALSE(diff->to) << "to defaults to now";
  EXPECT_EQ(parse_diff_params({}, kNow).error().code, "invalid_from");
  EXPECT_EQ(parse_diff_params({{"to", "-1h"}}, kNow).error().code, "invalid_from");
  EXPECT_EQ(parse_diff_params({{"from", "-1m"}, {"to", "-1h"}}, kNow).error().code, "reversed_interval");
  EXPECT_EQ(parse_diff_params({{"from", "-1m"}, {"to", "-1h"}, {"to", "-2h"}}, kNow).error().code, "invalid_to");
  EXPECT_EQ(parse_diff_params({{"from", "-1m"}, {"netns", "1"}}, kNow).error().code, "unknown_parameter");
}

TEST(HistoryParams, AWhoisByPortTakesAPortAndAProtocolAndNoPast) {
  EXPECT_FALSE(asks_by_port({{"address", "10.0.0.1"}}));
  EXPECT_TRUE(asks_by_port({{"proto", "tcp"}}));
  auto by_port = parse_port_whois_params({{"port", "8080"}, {"proto", "udp"}});
  ASSERT_TRUE(by_port);
  EXPECT_EQ(by_port->port, 8080);
  EXPECT_EQ(by_port->protocol, IPPROTO_UDP);
  auto any = parse_port_whois_params({{"port", "65535"}});
  ASSERT_TRUE(any);
  EXPECT_FALSE(any->protocol);
  for (const char* bad : {"0", "65536", "70000", "abc", "", "-1", "+80", "80 ", "0x50", "123456", "00000080"}) {
    auto got = parse_port_whois_params({{"port", bad}});
    ASSERT_FALSE(got) << bad;
    EXPECT_EQ(got.error().code, "invalid_port") << bad;
    EXPECT_EQ(got.error().status, 400);
  }
  EXPECT_TRUE(parse_port_whois_params({{"port", "00080"}})) << "five digits at most, leading zeros allowed";
  EXPECT_EQ(parse_port_whois_params({{"port", "80"}, {"proto", "foo"}}).error().code, "invalid_protocol");
  EXPECT_EQ(parse_port_whois_params({{"port", "80"}, {"proto", "tcp"}, {"proto", "udp"}}).error().code,
            "invalid_protocol");
  EXPECT_EQ(parse_port_whois_params({{"proto", "tcp"}}).error().code, "missing_subject");
  EXPECT_EQ(parse_port_whois_params({{"port", "80"}, {"at", "-1m"}}).error().code, "port_has_no_past");
  EXPECT_EQ(parse_port_whois_params({{"port", "80"}, {"mac", "aa:bb:cc:dd:ee:ff"}}).error().code, "too_many_subjects");
  EXPECT_EQ(parse_port_whois_params({{"port", "80"}, {"pid", "1"}}).error().code, "unknown_parameter");
}

}  // namespace
}  // namespace netnsd
