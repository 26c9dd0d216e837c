// An in-process netnsd: the real resolver, scanner, dumper and HTTP API on a
// real Unix socket in a temporary directory, over the real kernel
// (KernelHost) or over any HostView (a FakeHost serves the HTTP layer without
// privileges). Tests talk to it over that socket, as clients do.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "api/http_api.h"
#include "dump/dumper.h"
#include "resolver/changes.h"
#include "resolver/host.h"
#include "resolver/resolver.h"
#include "resolver/scanner.h"
#include "system.h"

namespace netnsd::testing {

// What a test may change of the in-process service.
struct LiveServiceOptions {
  ResolverConfig resolver;
  HttpApiOptions http;                                        // socket_path is the service's own
  std::function<bool(std::chrono::milliseconds)> wait_ready;  // null: ready at once
  DumpFileOptions files;
  FeedOptions feed;  // GET /v1/events streams the resolver's changes
};

class LiveService {
 public:
  // Over the real kernel.
  explicit LiveService(ResolverConfig resolver_config = {});
  // Over `host`, which must outlive the service.
  explicit LiveService(HostView& host, ResolverConfig resolver_config = {});
  LiveService(HostView& host, LiveServiceOptions options);
  ~LiveService();

  // A full rescan, as the periodic resync does.
  ScanReport rescan() { return scanner_.scan(); }

  httplib::Client client() const;
  const std::string& socket_path() const { return socket_path_; }
  const std::string& dump_dir() const { return dump_dir_; }
  Resolver& resolver() { return resolver_; }
  ChangeFeed& feed() { return feed_; }
  Status start_status() const { return started_; }

  // POST /v1/dump with a JSON body; returns the parsed JSON answer.
  nlohmann::json dump_stream(const nlohmann::json& params);

 private:
  LiveService(std::unique_ptr<HostView> owned, HostView* host, LiveServiceOptions options);

  TempDir dir_;
  std::string socket_path_;
  std::string dump_dir_;
  SystemClock clock_;
  std::unique_ptr<HostView> owned_host_;
  HostView& host_;
  ChangeFeed feed_;
  Resolver resolver_;
  Scanner scanner_;
  Dumper dumper_;
  std::unique_ptr<HttpApi> api_;
  Status started_;
};

}  // namespace netnsd::testing
