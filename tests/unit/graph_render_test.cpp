#include "dump/graph_render.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "documents.h"
#include "dump/dot_encoder.h"
#include "system.h"
#include "util/sanitizers.h"

namespace netnsd {
namespace {

using testing::container_host;

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

// "digraph { n0; n1; ... }": a graph of `nodes` nodes and no edges.
std::string nodes_only(std::size_t nodes) {
  std::string dot = "digraph {";
  for (std::size_t i = 0; i < nodes; ++i) dot += " n" + std::to_string(i) + ";";
  return dot + " }";
}

TEST(GraphRender, RendersTheDumpAsSvgWithItsDevices) {
  auto svg = render_dot(dump_to_dot(container_host()), ImageFormat::svg);
  ASSERT_TRUE(svg.ok()) << svg.error().message();
  EXPECT_EQ(svg->rfind("<?xml", 0), 0u) << svg->substr(0, 200);
  EXPECT_NE(svg->find("<svg"), std::string::npos);
  EXPECT_TRUE(ends_with(*svg, "</svg>\n")) << svg->substr(svg->size() - std::min<std::size_t>(svg->size(), 200));
  for (const char* name : {">br0 (3)</text>", ">veth&#45;c0 (10)</text>", ">veth&#45;c1 (11)</text>",
                           ">eth0 (2)</text>", ">c1</text>", ">netns 100 (host)</text>"}) {
    EXPECT_NE(svg->find(name), std::string::npos) << name;
  }
}

// A PNG's width and height, from its IHDR chunk.
struct PngSize {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
};

PngSize png_size(const std::string& png) {
  auto be32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png.at(at + i));
    return v;
  };
  return {be32(16), be32(20)};
}

TEST(GraphRender, RendersTheDumpAsPng) {
  auto png = render_dot(dump_to_dot(container_host()), ImageFormat::png);
  ASSERT_TRUE(png.ok()) << png.error().message();
  ASSERT_GT(png->size(), 33u);
  EXPECT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png->substr(12, 4), "IHDR") << "the first chunk";
  EXPECT_GT(png_size(*png).width, 100u);
  EXPECT_GT(png_size(*png).height, 100u);
  EXPECT_NE(png->find("IEND"), std::string::npos);
}

// This process's resident memory, in KiB.
long rss_kib() {
  return std::stol(testing::proc_status(::getpid())["VmRSS"]);
}

TEST(GraphRender, RendersInAChildSoTheCallerKeepsNoneOfItsMemory) {
  // 100 namespaces, each a cluster: Graphviz 2.42's layout leaks about half
  // a MiB on each render of it, which stays with the process that renders.
  DumpDocument doc = container_host();
  for (std::uint32_t i = 2; i < 100; ++i) {
    NamespaceView c = doc.namespaces.back();
    c.netns = 200 + i;
    c.names = {"c" + std::to_string(i)};
    doc.namespaces.push_back(c);
  }
  const std::string dot = dump_to_dot(doc);
  ASSERT_TRUE(render_dot(dot, ImageFormat::svg).ok());
  const long before = rss_kib();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(render_dot(dot, ImageFormat::svg).ok());
  const long grew = rss_kib() - before;
#ifndef NETNSD_ASAN
  // (Under ASan, freed memory waits in its quarantine: RSS says nothing.)
  EXPECT_LT(grew, 2048) << "KiB kept by the caller after 10 renders";
#endif
  int status = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1) << "every renderer is reaped";
  std::printf("[ figures ] caller's RSS after 10 renders of 100 namespaces: %+ld KiB\n", grew);
}

TEST(GraphRender, LargePngsAreDrawnAtALowerResolution) {
  ::testing::internal::CaptureStderr();
  // 60 x 60 inches: 5760 x 5760 pixels at 96 dpi, 33 million.
  auto square = render_dot("digraph { a [shape=box, width=60, height=60] }", ImageFormat::png);
  // 400 inches: 38400 pixels, more than cairo draws on one side.
  auto tall = render_dot("digraph { a [shape=box, width=1, height=400] }", ImageFormat::png);
  std::string printed = ::testing::internal::GetCapturedStderr();

  ASSERT_TRUE(square.ok()) << square.error().message();
  PngSize s = png_size(*square);
  EXPECT_LE(double(s.width) * s.height, 8e6) << s.width << "x" << s.height;
  EXPECT_GT(double(s.width) * s.height, 7.5e6) << "scaled no more than needed";
  ASSERT_TRUE(tall.ok()) << tall.error().message();
  EXPECT_LE(png_size(*tall).height, 32767u);
  EXPECT_EQ(printed, "");
}

TEST(GraphRender, MalformedDotIsAnErrorAndStderrStaysQuiet) {
  ::testing::internal::CaptureStderr();
  auto bad = render_dot("digraph { a -> ; }", ImageFormat::svg);
  auto unterminated = render_dot("digraph { a -> b;", ImageFormat::png);
  auto empty = render_dot("", ImageFormat::svg);
  // A warning (an unknown shape) does not fail the render, and is not printed either.
  auto warned = render_dot("digraph { a [shape=nonesuch]; }", ImageFormat::svg);
  std::string printed = ::testing::internal::GetCapturedStderr();

  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("syntax error in line 1"), std::string::npos) << bad.error().message();
  ASSERT_FALSE(unterminated.ok());
  EXPECT_NE(unterminated.error().message().find("syntax error"), std::string::npos) << unterminated.error().message();
  ASSERT_FALSE(empty.ok());
  EXPECT_FALSE(empty.error().message().empty());
  ASSERT_TRUE(warned.ok()) << warned.error().message();
  EXPECT_NE(warned->find("<svg"), std::string::npos);
  EXPECT_EQ(printed, "");

  // The parser recovers: the next text parses.
  auto good = render_dot("digraph { a -> b; }", ImageFormat::svg);
  EXPECT_TRUE(good.ok()) << good.error().message();
}

TEST(GraphRender, OneGraphPerTextAndLinesCountedFromItsStart) {
  // What follows the first graph is refused, not left for the next render to find.
  auto two = render_dot("digraph { a } digraph { b; c; d }", ImageFormat::svg);
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.error().message().find("more than one graph"), std::string::npos) << two.error().message();
  auto trailing = render_dot("digraph { a } junk ;", ImageFormat::svg);
  EXPECT_FALSE(trailing.ok());
  auto next = render_dot("digraph { x }", ImageFormat::svg);
  ASSERT_TRUE(next.ok()) << next.error().message();
  EXPECT_NE(next->find("<title>x</title>"), std::string::npos);
  EXPECT_EQ(next->find("<title>b</title>"), std::string::npos);

  ASSERT_TRUE(render_dot("digraph { a }\n\n\n\n", ImageFormat::svg).ok());
  auto bad = render_dot("digraph {\n a -> ;\n}", ImageFormat::svg);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("syntax error in line 2 "), std::string::npos) << bad.error().message();
}

TEST(GraphRender, RefusesGraphsOverTheNodeLimit) {
  const std::size_t limit = defaults::kMaxRenderedNodes;
  auto big = render_dot(nodes_only(limit + 1), ImageFormat::svg);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message().find(std::to_string(limit + 1) + " nodes"), std::string::npos)
      << big.error().message();
  EXPECT_NE(big.error().message().find(std::to_string(limit)), std::string::npos);
  EXPECT_NE(big.error().message().find("format=dot"), std::string::npos);

  // The limit itself is allowed.
  EXPECT_FALSE(render_dot(nodes_only(4), ImageFormat::svg, 3).ok());
  auto at_limit = render_dot(nodes_only(3), ImageFormat::svg, 3);
  EXPECT_TRUE(at_limit.ok()) << at_limit.error().message();
}

TEST(GraphRender, ConcurrentRendersAllSucceed) {
  const std::string dot = dump_to_dot(container_host());
  auto expected = render_dot(dot, ImageFormat::svg);
  ASSERT_TRUE(expected.ok()) << expected.error().message();
  Result<std::string> svg = Error::logic("not run");
  Result<std::string> png = Error::logic("not run");
  std::thread a([&] {
    for (int i = 0; i < 5; ++i) svg = render_dot(dot, ImageFormat::svg);
  });
  std::thread b([&] {
    for (int i = 0; i < 5; ++i) png = render_dot(dot, ImageFormat::png);
  });
  a.join();
  b.join();
  // Not byte for byte: Graphviz orders clusters by where their names sit in memory.
  ASSERT_TRUE(svg.ok()) << svg.error().message();
  EXPECT_TRUE(ends_with(*svg, "</svg>\n"));
  EXPECT_EQ(svg->size(), expected->size());
  ASSERT_TRUE(png.ok()) << png.error().message();
  EXPECT_EQ(png->substr(1, 3), "PNG");
}

}  // namespace
}  // namespace netnsd
