#include "kernel/bpf_events.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <vector>

#include "netns_events.h"
#include "netns_events.skel.h"

namespace netnsd {

// The event record is shared with the BPF side through netns_events.h; these
// pin its layout so a change on either side breaks the build, not the data.
static_assert(sizeof(struct netns_event) == 32, "netns_event layout changed");
static_assert(offsetof(struct netns_event, kind) == 8);
static_assert(offsetof(struct netns_event, netns) == 20);
static_assert(static_cast<std::uint32_t>(NetnsEventKind::fork) == NETNS_EVENT_FORK);
static_assert(static_cast<std::uint32_t>(NetnsEventKind::unshare) == NETNS_EVENT_UNSHARE);
static_assert(static_cast<std::uint32_t>(NetnsEventKind::setns) == NETNS_EVENT_SETNS);
static_assert(static_cast<std::uint32_t>(NetnsEventKind::exit) == NETNS_EVENT_EXIT);

namespace {

int libbpf_to_spdlog(enum libbpf_print_level level, const char* format, va_list args) {
  char line[1024];
  std::vsnprintf(line, sizeof line, format, args);
  std::string text(line);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (level == LIBBPF_WARN) {
    spdlog::warn("libbpf: {}", text);
  } else {
    spdlog::debug("libbpf: {}", text);
  }
  return 0;
}

}  // namespace

void NetnsEventSource::SkeletonDeleter::operator()(netns_events* skel) const {
  netns_events__destroy(skel);
}
void NetnsEventSource::RingBufferDeleter::operator()(ring_buffer* rb) const {
  ring_buffer__free(rb);
}

int NetnsEventSource::on_sample(void* ctx, void* data, std::size_t size) {
  auto* self = static_cast<NetnsEventSource*>(ctx);
  if (size < sizeof(struct netns_event)) return 0;
  const auto* raw = static_cast<const struct netns_event*>(data);
  NetnsEvent event;
  event.kind = static_cast<NetnsEventKind>(raw->kind);
  event.tgid = raw->tgid;
  event.tid = raw->tid;
  event.netns = raw->netns;
  event.prev_netns = raw->prev_netns;
  event.timestamp_ns = raw->timestamp_ns;
  if (self->callback_) self->callback_(event);
  return 0;
}

Result<std::unique_ptr<NetnsEventSource>> NetnsEventSource::create(NetnsEventOptions options, Callback callback) {
  libbpf_set_print(libbpf_to_spdlog);
  std::unique_ptr<NetnsEventSource> source(new NetnsEventSource());
  source->callback_ = std::move(callback);

  source->skel_.reset(netns_events__open());
  if (!source->skel_) return Error::os("open BPF object netns_events");
  source->skel_->rodata->ignored_tgid = static_cast<__u32>(options.ignored_tgid);
  if (options.ignored_tgid) {
    // The pid namespace that numbers ignored_tgid: our own.
    struct stat st {};
    if (::stat("/proc/self/ns/pid", &st) != 0) return Error::os("stat /proc/self/ns/pid");
    source->skel_->rodata->pidns_dev = st.st_dev;
    source->skel_->rodata->pidns_ino = st.st_ino;
  }
  source->skel_->rodata->host_netns = static_cast<__u32>(options.host_netns);
  source->skel_->rodata->nr_unshare = SYS_unshare;
  source->skel_->rodata->nr_setns = SYS_setns;
  if (int err = netns_events__load(source->skel_.get()); err != 0) {
    return Error::os("load BPF programs (is BTF available at /sys/kernel/btf/vmlinux?)", -err);
  }
  if (int err = netns_events__attach(source->skel_.get()); err != 0) {
    return Error::os("attach BPF tracepoint programs", -err);
  }
  source->ring_.reset(
      ring_buffer__new(bpf_map__fd(source->skel_->maps.events), &NetnsEventSource::on_sample, source.get(), nullptr));
  if (!source->ring_) return Error::os("create BPF ring buffer reader");
  return source;
}

NetnsEventSource::~NetnsEventSource() = default;

Result<int> NetnsEventSource::poll(int timeout_ms) {
  int n = ring_buffer__poll(ring_.get(), timeout_ms);
  if (n < 0 && n != -EINTR) return Error::os("poll BPF ring buffer", -n);
  return n < 0 ? 0 : n;
}

int NetnsEventSource::ready_fd() const {
  return ring_buffer__epoll_fd(ring_.get());
}

Result<int> NetnsEventSource::consume() {
  int n = ring_buffer__consume(ring_.get());
  if (n < 0) return Error::os("consume BPF ring buffer", -n);
  return n;
}

NetnsEventCounters NetnsEventSource::counters() const {
  NetnsEventCounters out;
  int fd = bpf_map__fd(skel_->maps.counters);
  int cpus = libbpf_num_possible_cpus();
  if (fd < 0 || cpus <= 0) return out;
  std::vector<__u64> values(static_cast<std::size_t>(cpus));
  auto sum = [&](__u32 slot) {
    std::uint64_t total = 0;
    if (bpf_map_lookup_elem(fd, &slot, values.data()) == 0) {
      for (__u64 v : values) total += v;
    }
    return total;
  };
  out.events = sum(NETNS_COUNTER_EVENTS);
  out.ringbuf_drops = sum(NETNS_COUNTER_RINGBUF_DROPS);
  out.inflight_drops = sum(NETNS_COUNTER_INFLIGHT_DROPS);
  return out;
}

}  // namespace netnsd
