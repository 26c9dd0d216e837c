#include "service.h"

#include <gtest/gtest.h>

#include "kernel/kernel_host.h"

namespace netnsd::testing {

namespace {

LiveServiceOptions with_resolver(ResolverConfig resolver_config) {
  LiveServiceOptions options;
  options.resolver = resolver_config;
  return options;
}

}  // namespace

LiveService::LiveService(ResolverConfig resolver_config)
    : LiveService(std::make_unique<KernelHost>(), nullptr, with_resolver(resolver_config)) {}

LiveService::LiveService(HostView& host, ResolverConfig resolver_config)
    : LiveService(nullptr, &host, with_resolver(resolver_config)) {}

LiveService::LiveService(HostView& host, LiveServiceOptions options)
    : LiveService(nullptr, &host, std::move(options)) {}

LiveService::LiveService(std::unique_ptr<HostView> owned, HostView* host, LiveServiceOptions options)
    : socket_path_(dir_.path() + "/run/netnsd.sock"),
      dump_dir_(dir_.path() + "/dumps"),
      owned_host_(std::move(owned)),
      host_(host ? *host : *owned_host_),
      feed_(options.feed),
      resolver_(options.resolver, clock_),
      scanner_(resolver_, host_),
      dumper_(resolver_, host_, clock_, dump_dir_, options.files) {
  resolver_.set_feed(&feed_);
  scanner_.scan();
  resolver_.mark_ready();
  options.http.socket_path = socket_path_;
  HttpApiDeps deps{resolver_, dumper_, nullptr, options.wait_ready};
  deps.feed = &feed_;
  api_ = std::make_unique<HttpApi>(deps, options.http);
  started_ = api_->start();
  EXPECT_TRUE(started_) << started_.error().message();
}

LiveService::~LiveService() {
  feed_.close();
  api_->stop();
}

httplib::Client LiveService::client() const {
  httplib::Client cli(socket_path_);
  cli.set_address_family(AF_UNIX);
  cli.set_read_timeout(120, 0);
  return cli;
}

nlohmann::json LiveService::dump_stream(const nlohmann::json& params) {
  nlohmann::json body = params;
  body["output"] = "stream";
  auto res = client().Post("/v1/dump", body.dump(), "application/json");
  EXPECT_TRUE(res) << "no answer";
  if (!res) return nullptr;
  EXPECT_EQ(res->status, 200) << res->body;
  return nlohmann::json::parse(res->body, nullptr, false);
}

}  // namespace netnsd::testing
