// The dump's DOT text rendered to an image with Graphviz's libraries
// (libgvc, libcgraph) and its dot layout; the `dot` binary is never run.
//
// Each render runs in a child process forked for it (see render_dot): Graphviz
// 2.42's layout leaks with clusters, keeps global state (its parser, its
// error reporting) and may take long on large graphs. The child's memory,
// leaks included, goes with it; netnsd itself never loads Graphviz's
// plugins, fonts or state. The child gives up its privileges first (user
// nobody where it may, no capabilities, no new privileges, no byte written
// into a file). Renders run one at a time. (ASan builds
// render in the caller instead: see graph_render.cpp.)
//
// Errors: a text that does not parse, a graph over the node limit (code
// E2BIG; `context` says so), a render over its time (ETIMEDOUT), a layout or
// a render that fails each return an Error carrying Graphviz's own message.
// Graphviz's messages are captured, never written to stderr.
//
// Cost (tests/bench/render_bench.cpp): a render of 1000 nodes takes about a
// second and peaks at some 50 MiB (SVG) or 125 MiB (PNG), in the child,
// whose address space is limited (defaults::kRenderMemoryBytes).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/defaults.h"
#include "util/result.h"

namespace netnsd {

enum class ImageFormat { svg, png };

// The image of `dot` (one graph, DOT language) laid out by dot: an SVG
// document, or PNG bytes (cairo's renderer when Graphviz has it, gd's
// otherwise; a drawing over 8 million pixels is drawn at a lower
// resolution, which bounds the bitmap at 32 MiB). A graph of more than
// `max_nodes` nodes is refused before its layout, whose time grows much
// faster than the graph; the bench is the only caller that passes a limit.
Result<std::string> render_dot(std::string_view dot, ImageFormat format,
                               std::size_t max_nodes = defaults::kMaxRenderedNodes);

// The same, by a renderer of its own listening on `socket_path`
// (netnsd-render, which systemd starts for each connection to its socket as
// a dynamic user without capabilities: deploy/systemd/netnsd-render.socket).
// The protocol: the client writes "svg\n" or "png\n" and the DOT text, and
// shuts its side down; the renderer answers one status byte ('+' the image
// follows, 'L' the graph has too many nodes, '-' an error's sentence
// follows) and closes. Same errors as render_dot, and an OS error when the
// renderer cannot be reached.
Result<std::string> render_dot_by(const std::string& socket_path, std::string_view dot, ImageFormat format);

// The renderer's side of that protocol: reads one request from `in` (at
// most 64 MiB, within the render's time), gives up its privileges and sets
// its limits as the forked renderer does, renders and answers on `out`.
// The process exit status: 0 once an image or a refusal was answered.
int serve_render_request(int in, int out);

}  // namespace netnsd
