// The request reader as a hostile client meets it: every limit refuses at its
// first byte too many, whatever the pace, and nothing is held past a limit.
#include "api/request_reader.h"

#include <gtest/gtest.h>

namespace netnsd {
namespace {

using State = RequestReader::State;

TEST(RequestReader, AWholeRequestInOnePieceOrByteByByte) {
  const std::string request = "GET /v1/namespaces?x=1 HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
  RequestReader at_once;
  EXPECT_EQ(at_once.feed(request), State::complete);
  EXPECT_EQ(at_once.head()->method, "GET");
  EXPECT_EQ(at_once.head()->path, "/v1/namespaces");
  EXPECT_EQ(at_once.head()->target, "/v1/namespaces?x=1");
  EXPECT_TRUE(at_once.head()->keep_alive);
  EXPECT_EQ(at_once.take(), request);

  RequestReader trickle;
  for (std::size_t i = 0; i + 1 < request.size(); ++i) {
    ASSERT_EQ(trickle.feed(request.substr(i, 1)), State::incomplete) << "at byte " << i;
  }
  EXPECT_EQ(trickle.feed(request.substr(request.size() - 1)), State::complete);
}

TEST(RequestReader, ABodyIsWaitedForAndAPipelinedRequestKept) {
  RequestReader r;
  const std::string post = "POST /dump HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
  EXPECT_EQ(r.feed(post + "{\"a\""), State::incomplete);
  ASSERT_TRUE(r.head());
  EXPECT_EQ(r.head()->content_length, 5u);
  const std::string next = "GET /healthz HTTP/1.1\r\n\r\n";
  EXPECT_EQ(r.feed(":" + next), State::complete);
  EXPECT_EQ(r.take(), post + "{\"a\":");
  EXPECT_EQ(r.state(), State::complete) << "the pipelined request is whole already";
  EXPECT_EQ(r.head()->path, "/healthz");
  EXPECT_EQ(r.take(), next);
  EXPECT_FALSE(r.started());
}

TEST(RequestReader, AnEndlessRequestLineIsRefusedAtItsLimit) {
  RequestReader r;
  std::string line = "GET /" + std::string(8192, 'a');
  EXPECT_EQ(r.feed(line.substr(0, 8192)), State::incomplete);
  EXPECT_EQ(r.feed(line.substr(8192)), State::refused);
  EXPECT_EQ(r.refusal().status, 414);
  EXPECT_EQ(r.refusal().code, "uri_too_long");
  EXPECT_EQ(r.feed(std::string(1 << 20, 'a')), State::refused) << "and stays refused, holding nothing";
}

TEST(RequestReader, AnEndlessHeaderLineIsRefusedAtItsLimit) {
  RequestReader r;
  EXPECT_EQ(r.feed("GET / HTTP/1.1\r\nX-Long: "), State::incomplete);
  State s = State::incomplete;
  std::size_t fed = 0;
  while (s == State::incomplete && fed < (1 << 20)) {
    s = r.feed(std::string(1000, 'h'));
    fed += 1000;
  }
  EXPECT_EQ(s, State::refused);
  EXPECT_LE(fed, 9000u) << "refused within the 8 KiB cap";
  EXPECT_EQ(r.refusal().status, 431);
}

TEST(RequestReader, TheHeadIsBoundedInSizeAndInLines) {
  RequestReader big;
  std::string head = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 40; ++i) head += "X-" + std::to_string(i) + ": " + std::string(500, 'v') + "\r\n";
  EXPECT_EQ(big.feed(head), State::refused);
  EXPECT_EQ(big.refusal().status, 431);
  EXPECT_EQ(big.refusal().code, "headers_too_large");

  RequestReader many;
  std::string lines = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) lines += "X: y\r\n";
  EXPECT_EQ(many.feed(lines), State::refused);
  EXPECT_EQ(many.refusal().status, 431);

  RequestReader hundred;
  std::string ok = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) ok += "X: y\r\n";
  EXPECT_EQ(hundred.feed(ok + "\r\n"), State::complete) << "100 headers are allowed";
}

TEST(RequestReader, BodiesItWillNotReadAreRefusedBeforeAnyOfThem) {
  struct Case {
    std::string head;
    int status;
    std::string code;
  } cases[] = {
      {"Content-Encoding: gzip\r\nContent-Length: 20\r\n", 415, "encoded_body_refused"},
      {"Content-Encoding: br\r\nContent-Length: 20\r\n", 415, "encoded_body_refused"},
      {"content-encoding: deflate\r\n", 415, "encoded_body_refused"},
      {"Transfer-Encoding: chunked\r\n", 411, "length_required"},
      {"Content-Length: 65537\r\n", 413, "payload_too_large"},
      {"Content-Length: 12x\r\n", 400, "bad_request"},
      {"Content-Length: 1\r\nContent-Length: 2\r\n", 400, "bad_request"},
  };
  for (const Case& c : cases) {
    RequestReader r;
    EXPECT_EQ(r.feed("POST /dump HTTP/1.1\r\n" + c.head + "\r\n"), State::refused) << c.head;
    EXPECT_EQ(r.refusal().status, c.status) << c.head;
    EXPECT_EQ(r.refusal().code, c.code) << c.head;
  }
  RequestReader identity;
  EXPECT_EQ(identity.feed("POST /dump HTTP/1.1\r\nContent-Encoding: identity\r\nContent-Length: 2\r\n\r\n{}"),
            State::complete);
}

TEST(RequestReader, ContinueIsAnsweredOnceAndTheExpectHeaderDropped) {
  RequestReader r;
  EXPECT_EQ(r.feed("POST /dump HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\nX: 1\r\n\r\n"),
            State::incomplete);
  EXPECT_TRUE(r.wants_continue());
  r.continue_sent();
  EXPECT_FALSE(r.wants_continue());
  EXPECT_EQ(r.feed("{}"), State::complete);
  EXPECT_EQ(r.take(), "POST /dump HTTP/1.1\r\nContent-Length: 2\r\nX: 1\r\n\r\n{}");
}

TEST(RequestReader, ConnectionsAskedToCloseAreNotKept) {
  RequestReader close;
  close.feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(close.head()->keep_alive);
  RequestReader old;
  old.feed("GET / HTTP/1.0\r\n\r\n");
  EXPECT_FALSE(old.head()->keep_alive);
  RequestReader old_kept;
  old_kept.feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(old_kept.head()->keep_alive);
}

// RFC 9112 5.1: whitespace between a field's name and its colon must be
// answered 400, as must anything else that is not a field line: a proxy in
// front may read it differently (request smuggling).
TEST(RequestReader, AHeaderLineThatIsNotNameColonValueIsABadRequest) {
  for (const char* line : {"Host : x", "Host\t: x", " Host: x", "\tfolded", "NoColonHere", ": empty name",
                           "Con tent-Length: 0", "X\xc4\xb0: dotted capital I"}) {
    RequestReader r;
    EXPECT_EQ(r.feed(std::string("GET /healthz HTTP/1.1\r\n") + line + "\r\n\r\n"), State::refused) << line;
    EXPECT_EQ(r.refusal().status, 400) << line;
    EXPECT_EQ(r.refusal().code, "bad_request") << line;
  }
  RequestReader fine;
  EXPECT_EQ(fine.feed("GET /healthz HTTP/1.1\r\nHost:x\r\nX-A_b.c~!: 1 \r\n\r\n"), State::complete);
}

TEST(RequestReader, HeaderNamesCompareAsAsciiWhateverTheBytes) {
  RequestReader r;
  // Bytes past 0x7f are not letters: this is no Content-Length.
  EXPECT_EQ(r.feed("POST /dump HTTP/1.1\r\nCONTENT-LENGTH: 2\r\n\r\n{}"), State::complete);
  EXPECT_EQ(r.head()->content_length, 2u);
  RequestReader high;
  EXPECT_EQ(high.feed("GET / HTTP/1.1\r\nContent-Lengt\xe8: 5\r\n\r\n"), State::refused);
}

// RFC 9112 3.2.2: a server must accept a target in absolute form; cpp-httplib
// is handed the origin form it routes on.
TEST(RequestReader, AnAbsoluteFormTargetIsReadInOriginForm) {
  const std::pair<const char*, const char*> cases[] = {
      {"http://localhost/healthz", "/healthz"},
      {"HTTP://localhost:80/v1/namespaces?x=1", "/v1/namespaces?x=1"},
      {"https://h/v1/dump?output=stream", "/v1/dump?output=stream"},
      {"http://localhost", "/"},
      {"http://localhost?x=1", "/?x=1"},
  };
  for (const auto& [target, origin] : cases) {
    RequestReader r;
    ASSERT_EQ(r.feed(std::string("GET ") + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n"), State::complete) << target;
    EXPECT_EQ(r.head()->target, origin);
    EXPECT_EQ(r.head()->path, std::string(origin).substr(0, std::string(origin).find('?')));
    EXPECT_EQ(r.take(), std::string("GET ") + origin + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  }
  RequestReader with_body;
  ASSERT_EQ(with_body.feed("\r\nPOST http://x/dump HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"), State::complete);
  EXPECT_EQ(with_body.take(), "POST /dump HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
}

TEST(RequestReader, AMalformedRequestLineIsABadRequest) {
  // Found by the fuzzer (an empty target was handed on), and their kin.
  for (const char* line : {"THIS_IS_NOT_HTTP", "GET`xT  ", "GET  HTTP/1.1", "GET * HTTP/1.1", "CONNECT h:80 HTTP/1.1",
                           "GET / HTTP/2.0", "GET / FTP/1.1", "GET /a b HTTP/1.1", "G(T / HTTP/1.1"}) {
    RequestReader r;
    EXPECT_EQ(r.feed(std::string(line) + "\r\n\r\n"), State::refused) << line;
    EXPECT_EQ(r.refusal().status, 400) << line;
  }
}

TEST(RequestReader, EveryExpectContinueIsRemovedAndOtherExpectationsKept) {
  RequestReader r;
  ASSERT_EQ(r.feed("POST /dump HTTP/1.1\r\nExpect: 100-continue\r\nExpect: other\r\nexpect: 100-Continue\r\n"
                   "Content-Length: 2\r\n\r\n{}"),
            State::complete);
  EXPECT_EQ(r.take(), "POST /dump HTTP/1.1\r\nExpect: other\r\nContent-Length: 2\r\n\r\n{}");
}

}  // namespace
}  // namespace netnsd
