#include "resolver/host.h"

namespace netnsd {

std::string mount_name(std::string_view mount_point) {
  while (mount_point.size() > 1 && mount_point.back() == '/') mount_point.remove_suffix(1);
  std::size_t slash = mount_point.rfind('/');
  return std::string(slash == std::string_view::npos ? mount_point : mount_point.substr(slash + 1));
}

}  // namespace netnsd
