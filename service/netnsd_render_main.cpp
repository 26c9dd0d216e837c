// netnsd-render: one render of netnsd's graph, in a process of its own.
//
// systemd starts it for each connection to netnsd-render.socket, as a
// dynamic user without capabilities, the connection as its standard input
// and output (deploy/systemd/netnsd-render@.service); netnsd, given
// --render-socket, connects there instead of forking a renderer. The
// protocol and the limits are render_dot_by's and serve_render_request's
// (src/dump/graph_render.h).
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "dump/graph_render.h"
#include "util/version.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("netnsd-render %s\n", netnsd::kVersion);
    return 0;
  }
  if (argc > 1) {
    std::fprintf(stderr,
                 "usage: netnsd-render < REQUEST > ANSWER\n"
                 "Renders one graph: reads 'svg' or 'png', a newline and DOT text from standard input,\n"
                 "answers on standard output. systemd starts it for each connection to its socket.\n");
    return 2;
  }
  return netnsd::serve_render_request(STDIN_FILENO, STDOUT_FILENO);
}
