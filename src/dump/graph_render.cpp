#include "dump/graph_render.h"

#include <fcntl.h>
#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>
#include <linux/capability.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

#include "util/fd.h"
#include "util/sanitizers.h"

namespace netnsd {

namespace {

// Graphviz's global state, and the lock every use of it takes.
struct Graphviz {
  std::mutex mutex;
  GVC_t* context = nullptr;  // created by the first render, never freed
  std::string messages;      // what Graphviz reported during the current render
};

// Never destroyed: a worker may still be rendering while the process exits.
Graphviz& graphviz() {
  static Graphviz& gv = *new Graphviz;
  return gv;
}

// Graphviz's error function: called with the lock held, in pieces
// ("Error", ": ", the message).
int capture_message(char* text) {
  graphviz().messages.append(text);
  return 0;
}

struct GraphClose {
  void operator()(Agraph_t* g) const { agclose(g); }
};
using GraphPtr = std::unique_ptr<Agraph_t, GraphClose>;

struct RenderDataFree {
  void operator()(char* data) const { gvFreeRenderData(data); }
};
using RenderDataPtr = std::unique_ptr<char, RenderDataFree>;

// The layout of one graph, freed before the graph is closed.
class Layout {
 public:
  Layout(GVC_t* context, Agraph_t* graph) : context_(context), graph_(graph) {}
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;
  ~Layout() { gvFreeLayout(context_, graph_); }

 private:
  GVC_t* context_;
  Agraph_t* graph_;
};

// Set up on first use: messages go to capture_message from the start, so
// that gvContext's own (a missing plugin) are captured too.
GVC_t* context_locked(Graphviz& gv) {
  if (!gv.context) {
    agseterrf(capture_message);
    gv.context = gvContext();
  }
  return gv.context;
}

// `what`, then what Graphviz said, on one line.
Error failure(Graphviz& gv, const std::string& what) {
  std::string said = gv.messages;
  for (char& c : said) {
    if (c == '\n') c = ' ';
  }
  while (!said.empty() && said.back() == ' ') said.pop_back();
  return Error::logic(said.empty() ? what : what + ": " + said);
}

Result<std::string> render_data(Graphviz& gv, Agraph_t* graph, const char* format) {
  char* data = nullptr;
  unsigned int length = 0;
  int rc = gvRenderData(gv.context, graph, format, &data, &length);
  RenderDataPtr owned(data);
  if (rc != 0 || !data) return failure(gv, std::string("graphviz could not render ") + format);
  return std::string(data, length);
}

// A render's bounds (defaults.h).
using defaults::kMaxRenderedBytes;
using defaults::kMaxRenderInput;
using defaults::kRenderTimeout;
constexpr rlim_t kRenderCpuSeconds = defaults::kRenderCpuSeconds;

Error timed_out() {
  return Error::os("rendering took longer than " + std::to_string(kRenderTimeout.count() / 1000) +
                       " s: ask for format=dot and render it offline",
                   ETIMEDOUT);
}

// A PNG is drawn on one bitmap of 4 bytes a pixel, as large as the drawing:
// 100 containers make a 1023 x 25493 drawing, 100 MiB of bitmap. Past these
// bounds it is drawn at a lower resolution instead (the dpi the layout
// recorded; text stays legible down to about half of Graphviz's 96). cairo
// would itself shrink a side over 32767 pixels, but says so on stderr.
using defaults::kMaxPngPixels;
constexpr double kMaxPngSide = 32000;
constexpr double kDefaultDpi = 96;  // Graphviz's for bitmaps
constexpr double kPadPoints = 4;    // Graphviz's default pad, each side

void fit_png(Agraph_t* graph) {
  const boxf bb = GD_bb(graph);
  double dpi = GD_drawing(graph)->dpi > 0 ? GD_drawing(graph)->dpi : kDefaultDpi;
  double width = (bb.UR.x - bb.LL.x + 2 * kPadPoints) * dpi / 72;
  double height = (bb.UR.y - bb.LL.y + 2 * kPadPoints) * dpi / 72;
  if (width <= 0 || height <= 0) return;
  double scale =
      std::min({1.0, std::sqrt(kMaxPngPixels / (width * height)), kMaxPngSide / width, kMaxPngSide / height});
  if (scale < 1) GD_drawing(graph)->dpi = dpi * scale;
}

Result<std::string> render_image(Graphviz& gv, Agraph_t* graph, ImageFormat format) {
  if (format == ImageFormat::svg) return render_data(gv, graph, "svg");
  fit_png(graph);
  // cairo (the pango plugin) antialiases; gd is what a Graphviz without it has.
  auto png = render_data(gv, graph, "png:cairo");
  if (png) return png;
  gv.messages.clear();
  return render_data(gv, graph, "png");
}

// The one graph `dot` holds. Graphviz's lexer outlives a parse: it stops
// reading after the first graph, keeps the rest of the text for the next
// parse (which would return the next graph, whoever asked) and keeps
// counting lines. So the rest is read here and refused, and lines are
// counted from 1, which makes the line in a syntax error the caller's.
Result<GraphPtr> parse_one(Graphviz& gv, const std::string& dot) {
  agreadline(1);
  GraphPtr graph(agmemread(dot.c_str()));
  if (!graph) return failure(gv, "the DOT text does not hold a graph Graphviz can read");
  const std::size_t said = gv.messages.size();  // warnings about the graph itself are not the rest's
  bool more = false;
  while (GraphPtr rest{agmemread("")}) more = true;  // stops at the end of the text, or at an error
  if (more || gv.messages.size() > said) return failure(gv, "the DOT text holds more than one graph");
  return graph;
}

Result<std::string> render_locked(Graphviz& gv, const std::string& dot, ImageFormat format, std::size_t max_nodes) {
  GVC_t* context = context_locked(gv);
  gv.messages.clear();
  auto parsed = parse_one(gv, dot);
  if (!parsed) return parsed.error();
  GraphPtr graph = std::move(parsed).value();

  auto nodes = static_cast<std::size_t>(agnnodes(graph.get()));
  if (nodes > max_nodes) {
    return Error::os("the graph has " + std::to_string(nodes) + " nodes, more than the " + std::to_string(max_nodes) +
                         " rendered by the service (the layout's time grows much faster than the graph): ask for "
                         "format=dot and render it offline",
                     E2BIG);
  }
  int rc = gvLayout(context, graph.get(), "dot");
  Layout layout(context, graph.get());  // a failed layout may have begun
  if (rc != 0) return failure(gv, "graphviz could not lay out the graph");
  return render_image(gv, graph.get(), format);
}

// The child's answer on its pipe: one status byte, then the image or the
// error's sentence.
constexpr char kImage = '+';
constexpr char kTooLarge = 'L';
constexpr char kFailed = '-';

// In the renderer, before Graphviz reads a byte of the text (whose names
// come from every namespace's owner): the user nobody when it may change
// its user (a forked child of netnsd run as root; under systemd the
// renderer is netnsd-render, a dynamic user already), and in any case no
// capabilities, no way to gain any (no_new_privs) and a file-size limit
// of 0. (Not
// RLIMIT_NPROC: GLib, under pango, starts a thread and traps when it
// cannot.) False when a step that must hold did not. System calls
// directly: as little library code as may be runs in the child of a
// threaded process before Graphviz.
bool give_up_privileges() {
  const uid_t nobody = 65534;
  ::syscall(SYS_setgroups, 0, nullptr);  // fails without CAP_SETGID, as the next one
  if (::syscall(SYS_setresgid, nobody, nobody, nobody) == 0 && ::syscall(SYS_setresuid, nobody, nobody, nobody) != 0) {
    return false;  // half a change of user
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[2]{};
  if (::syscall(SYS_capset, &header, none) != 0) {
    // A system-call filter may refuse capset itself (netnsd-render's unit
    // refuses @privileged): fine when there is nothing left to give up.
    __user_cap_header_struct ask{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct held[2]{};
    if (::syscall(SYS_capget, &ask, held) != 0) return false;
    for (const auto& d : held) {
      if (d.effective || d.permitted || d.inheritable) return false;
    }
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  const rlimit zero{0, 0};
  if (::setrlimit(RLIMIT_FSIZE, &zero) != 0) return false;
  ::signal(SIGXFSZ, SIG_IGN);  // a write then fails with EFBIG instead of killing
  return true;
}

// One render, as the answer a renderer writes: the status byte, then the
// image or the sentence.
std::string render_answer(const std::string& dot, ImageFormat format, std::size_t max_nodes) {
  Graphviz& gv = graphviz();
  std::lock_guard lock(gv.mutex);
  auto image = render_locked(gv, dot, format, max_nodes);
  if (image) return kImage + std::move(image).value();
  const Error& e = image.error();
  return e.code == E2BIG ? kTooLarge + e.context : kFailed + e.message();
}

// What a renderer answered, as render_dot returns it.
Result<std::string> from_answer(const std::string& answer) {
  const std::string body = answer.substr(1);
  if (answer[0] == kImage) return body;
  if (answer[0] == kTooLarge) return Error{E2BIG, body};
  return Error::logic(body);
}

bool write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads `fd` to its end within `deadline` and `max` bytes; false past either.
bool read_all(int fd, std::string& into, std::chrono::steady_clock::time_point deadline, std::size_t max) {
  char buf[65536];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    into.append(buf, static_cast<std::size_t>(n));
    if (into.size() > max) return false;
  }
}

// A render's limits, in whatever process renders: its CPU time, its
// address space (Graphviz at the node limit, PNG through cairo, peaks well
// below it: tests/bench/render_bench.cpp) and, with give_up_privileges, no
// file written.
void limit_render() {
  const rlimit cpu{kRenderCpuSeconds, kRenderCpuSeconds};
  ::setrlimit(RLIMIT_CPU, &cpu);
#ifndef NETNSD_ASAN
  // (ASan reserves terabytes of address space for its shadow memory.)
  const rlimit memory{defaults::kRenderMemoryBytes, defaults::kRenderMemoryBytes};
  ::setrlimit(RLIMIT_AS, &memory);
#endif
}

// In the child: renders, writes the answer, exits without running
// destructors or atexit handlers (the parent's, not ours).
[[noreturn]] void render_in_child(pid_t parent, int out, const std::string& dot, ImageFormat format,
                                  std::size_t max_nodes) {
  // Only the pipe stays open: the parent's namespace handles must not live
  // on in the child, and what cairo says goes nowhere.
  int quiet = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (quiet >= 0) ::dup2(quiet, STDERR_FILENO);
  ::dup2(out, 3);
  ::syscall(SYS_close_range, 4u, ~0u, 0u);
  limit_render();
  if (!give_up_privileges()) ::_exit(1);
  // After the change of user, which clears it: killed with netnsd, and
  // gone already if netnsd went before this line.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);
  ::_exit(write_all(3, render_answer(dot, format, max_nodes)) ? 0 : 1);
}

}  // namespace

#ifdef NETNSD_ASAN
// ASan builds (tests/sanitize.sh) render in the calling process: GCC 12's
// ASan runtime is not safe to fork() from a threaded process (a forked
// renderer hung once, holding a lock of the allocator's), and its shadow
// memory would make each child costly. Graphviz's cluster leak is then
// the caller's: its stacks stop in these libraries (built without frame
// pointers), so the libraries are named.
constexpr bool kForkToRender = false;
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libgvc.so\nleak:libfontconfig.so\n";
}
#else
constexpr bool kForkToRender = true;
#endif

Result<std::string> render_dot(std::string_view dot, ImageFormat format, std::size_t max_nodes) {
  if (!kForkToRender) {
    Graphviz& gv = graphviz();
    std::lock_guard lock(gv.mutex);
    return render_locked(gv, std::string(dot), format, max_nodes);
  }
  // Graphviz 2.42's dot layout leaks what it allocates for clusters (one
  // per namespace here; Graphviz bug 1908, "memory leaks in gvLayout",
  // still open): some 1.3 KiB per node, every render. So each render runs
  // in a child forked for it, whose memory, leaks included, goes when it
  // exits, and whose crash or endless layout is not netnsd's. One at a time:
  // a render peaks at over 100 MiB.
  static std::mutex one_at_a_time;
  std::lock_guard lock(one_at_a_time);
  const std::string text(dot);  // agmemread wants a C string
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error::os("pipe for the renderer");
  Fd in(fds[0]), out(fds[1]);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) return Error::os("fork the renderer");
  if (child == 0) render_in_child(parent, out.get(), text, format, max_nodes);
  out.reset();

  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + kRenderTimeout;
  const bool whole = read_all(in.get(), answer, deadline, kMaxRenderedBytes);
  if (!whole) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!whole && std::chrono::steady_clock::now() >= deadline) return timed_out();
  if (!whole || answer.empty() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFSIGNALED(status)) {
      return Error::logic("the renderer died of signal " + std::to_string(WTERMSIG(status)));
    }
    return Error::logic("the renderer failed without an answer");
  }
  return from_answer(answer);
}

Result<std::string> render_dot_by(const std::string& socket_path, std::string_view dot, ImageFormat format) {
  if (socket_path.size() >= sizeof(sockaddr_un::sun_path)) return Error::logic("renderer socket path too long");
  Fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return Error::os("socket for the renderer");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Error::os("connect to the renderer at " + socket_path);
  }
  const auto deadline = std::chrono::steady_clock::now() + kRenderTimeout;
  // The request is small next to the socket's buffer and the renderer reads
  // it whole before it renders: a blocking write, bounded by SO_SNDTIMEO.
  const timeval send_timeout{static_cast<time_t>(kRenderTimeout.count() / 1000), 0};
  ::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  std::string request = format == ImageFormat::svg ? "svg\n" : "png\n";
  request.append(dot);
  if (!write_all(sock.get(), request)) return Error::os("send the graph to the renderer at " + socket_path);
  ::shutdown(sock.get(), SHUT_WR);
  std::string answer;
  if (!read_all(sock.get(), answer, deadline, kMaxRenderedBytes)) {
    if (std::chrono::steady_clock::now() >= deadline) return timed_out();
    return Error::logic("the renderer at " + socket_path + " answered more than " +
                        std::to_string(kMaxRenderedBytes >> 20) + " MiB");
  }
  if (answer.empty()) return Error::logic("the renderer at " + socket_path + " closed without an answer");
  return from_answer(answer);
}

int serve_render_request(int in, int out) {
  std::string request;
  const auto deadline = std::chrono::steady_clock::now() + kRenderTimeout;
  const bool whole = read_all(in, request, deadline, kMaxRenderInput);
  const std::size_t eol = request.find('\n');
  const std::string kind = eol == std::string::npos ? "" : request.substr(0, eol);
  if (!whole || (kind != "svg" && kind != "png")) {
    write_all(out,
              std::string(1, kFailed) + (whole ? "expected 'svg' or 'png', a newline, then the DOT text"
                                               : "the request is larger than " + std::to_string(kMaxRenderInput >> 20) +
                                                     " MiB or was not whole in time"));
    return 1;
  }
  limit_render();
  if (!give_up_privileges()) return 1;
  const std::string answer = render_answer(request.substr(eol + 1), kind == "svg" ? ImageFormat::svg : ImageFormat::png,
                                           defaults::kMaxRenderedNodes);
  return write_all(out, answer) ? 0 : 1;
}

}  // namespace netnsd
