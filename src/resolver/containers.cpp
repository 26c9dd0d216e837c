#include "resolver/containers.h"

#include <algorithm>
#include <vector>

#include "util/text.h"

namespace netnsd {
namespace {

bool all_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool container_id(std::string_view s) {
  return s.size() == 64 && all_hex(s);
}

// A pod UID: a UUID (8-4-4-4-12) or, for static pods, 32 hex digits.
std::optional<std::string> pod_uid(std::string uid) {
  std::replace(uid.begin(), uid.end(), '_', '-');  // the systemd driver writes '-' as '_'
  if (uid.size() == 32 && all_hex(uid)) return uid;
  if (uid.size() != 36) return std::nullopt;
  for (std::size_t i = 0; i < uid.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? uid[i] != '-' : !all_hex(std::string_view(&uid[i], 1))) return std::nullopt;
  }
  return uid;
}

bool strip_prefix(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

bool strip_suffix(std::string_view& s, std::string_view suffix) {
  if (s.size() < suffix.size() || s.substr(s.size() - suffix.size()) != suffix) return false;
  s.remove_suffix(suffix.size());
  return true;
}

// "<prefix><id>.scope" (systemd driver) or "<prefix><id>" (cgroupfs driver).
std::optional<std::string> prefixed_id(std::string_view component, std::string_view prefix) {
  if (!strip_prefix(component, prefix)) return std::nullopt;
  strip_suffix(component, ".scope");
  if (!container_id(component)) return std::nullopt;
  return std::string(component);
}

// The pod UID a path component names, if it is a pod's cgroup:
// "kubepods-burstable-pod<uid>.slice", "kubepods-pod<uid>.slice" or "pod<uid>".
std::optional<std::string> pod_of(std::string_view component, bool under_kubepods) {
  if (strip_suffix(component, ".slice")) {
    if (!strip_prefix(component, "kubepods-")) return std::nullopt;
    const auto at = component.rfind("pod");
    if (at == std::string_view::npos) return std::nullopt;
    return pod_uid(std::string(component.substr(at + 3)));
  }
  if (under_kubepods && strip_prefix(component, "pod")) return pod_uid(std::string(component));
  return std::nullopt;
}

}  // namespace

std::optional<CgroupMatch> container_of_cgroup_path(std::string_view path) {
  std::optional<CgroupMatch> found;
  std::string pod;
  bool under_kubepods = false;
  std::string_view previous;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(pos, end - pos);
    const std::string_view upto = path.substr(0, end);
    pos = end + 1;
    if (component.empty()) continue;
    if (component == "kubepods" || component.substr(0, 9) == "kubepods.") under_kubepods = true;
    if (auto uid = pod_of(component, under_kubepods)) {
      pod = *uid;
      under_kubepods = true;
      previous = component;
      continue;
    }
    // The runtimes' own monitor processes share these prefixes: not containers.
    if (component.substr(0, 12) == "crio-conmon-" || component.substr(0, 14) == "libpod-conmon-") {
      previous = component;
      continue;
    }
    std::optional<std::string> id;
    std::string runtime;
    struct Layout {
      std::string_view prefix;
      const char* runtime;
    };
    static constexpr Layout kLayouts[] = {
        {"docker-", "docker"}, {"cri-containerd-", "containerd"}, {"crio-", "cri-o"},
        {"libpod-", "podman"}, {"nerdctl-", "containerd"},
    };
    for (const Layout& layout : kLayouts) {
      if ((id = prefixed_id(component, layout.prefix))) {
        runtime = layout.runtime;
        break;
      }
    }
    if (!id && container_id(component)) {
      // A bare id (cgroupfs driver): under /docker it is Docker's; under a
      // pod, the kubelet's runtime, which the path does not name.
      if (previous == "docker") {
        id = std::string(component);
        runtime = "docker";
      } else if (!pod.empty()) {
        id = std::string(component);
      }
    }
    if (id) {
      CgroupMatch m;
      m.container.runtime = runtime;
      m.container.id = *id;
      m.container.pod_uid = pod;
      m.path = std::string(upto);
      found = std::move(m);  // the innermost container wins (a runtime inside a container)
    }
    previous = component;
  }
  return found;
}

std::optional<CgroupMatch> container_of_cgroup_file(std::string_view text) {
  std::optional<CgroupMatch> v1;
  for (const std::string_view line : split_lines(text)) {
    // "hierarchy-ID:controller-list:cgroup-path"; the path may hold ':'.
    const auto first = line.find(':');
    if (first == std::string_view::npos) continue;
    const auto second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view hierarchy = line.substr(0, first);
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    auto match = container_of_cgroup_path(line.substr(second + 1));
    if (!match) continue;
    match->controllers = std::string(controllers);
    if (hierarchy == "0" && controllers.empty()) return match;  // cgroup v2
    if (!v1) v1 = std::move(match);
  }
  return v1;
}

}  // namespace netnsd
