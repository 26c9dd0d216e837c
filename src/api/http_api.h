// HttpApi: the HTTP/1.1 API on a Unix socket.
//
// Thin by design: handlers parse and validate, call the resolver or the
// dumper, and serialise. Every non-2xx response is JSON
// {"error": sentence, "code": snake_case}; the mapping from failures to
// statuses lives in http_api.cpp only. httplib stays out of this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dump/dumper.h"
#include "resolver/resolver.h"
#include "util/defaults.h"
#include "util/result.h"

namespace netnsd {

struct HttpApiOptions {
  std::string socket_path = defaults::kSocketPath;
  std::optional<std::string> socket_group;  // chgrp the socket to this group
  std::size_t threads = defaults::kHttpWorkers;
  std::size_t max_body = defaults::kMaxRequestBody;  // larger bodies get 413
};

struct HttpApiDeps {
  Resolver& resolver;
  Dumper& dumper;
  // Why the service is not ready (empty when it is); drives GET /readyz.
  std::function<std::vector<std::string>()> not_ready_reasons;
};

// Threading: start() and stop() from one controlling thread; requests are
// served on the worker pool.
class HttpApi {
 public:
  HttpApi(HttpApiDeps deps, HttpApiOptions options);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Prepares the socket path (see prepare_socket_path), binds, sets the
  // socket's mode and group, and starts serving on a background thread.
  Status start();
  // Stops serving, waits for in-flight requests, removes the socket file.
  void stop();

  const std::string& socket_path() const { return options_.socket_path; }

 private:
  class Impl;
  HttpApiDeps deps_;
  HttpApiOptions options_;
  std::unique_ptr<Impl> impl_;
  std::thread serving_;
  std::uint64_t socket_dev_ = 0;  // identity of the socket file we bound
  std::uint64_t socket_ino_ = 0;
};

}  // namespace netnsd
