#include "config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;

Result<CommandLine> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "netnsd");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(Config, DefaultsMatchTheDesign) {
  auto cli = parse({});
  ASSERT_TRUE(cli);
  const ServiceConfig& c = cli->config;
  EXPECT_EQ(c.socket_path, "/run/netnsd/netnsd.sock");
  EXPECT_EQ(c.dump_dir, "/var/lib/netnsd/dumps");
  EXPECT_EQ(c.resync_interval, 30s);
  EXPECT_EQ(c.lonely_timeout, 30s);
  EXPECT_EQ(c.flush_period, 10s);
  EXPECT_EQ(c.capacity, 12000u) << "10,000 namespaces and room, issue 21";
  EXPECT_EQ(c.max_per_owner, 0u) << "0: a quarter of the capacity";
  EXPECT_EQ(c.max_devices, 4096u);
  EXPECT_FALSE(c.no_ebpf);
  EXPECT_FALSE(c.socket_group);
  EXPECT_EQ(c.runtime_root, "/");
  EXPECT_EQ(c.host_pid, 0u) << "netnsd's own view of cgroups";
}

TEST(Config, ReadsEveryFlag) {
  auto cli = parse({"--socket",
                    "/tmp/x.sock",
                    "--socket-group=adm",
                    "--dump-dir",
                    "/tmp/d",
                    "--resync-interval",
                    "0",
                    "--lonely-timeout",
                    "1.5",
                    "--flush-period",
                    "0.2",
                    "--capacity",
                    "16",
                    "--no-ebpf",
                    "--log-level",
                    "debug",
                    "--max-per-owner",
                    "3",
                    "--max-devices=64",
                    "--runtime-root",
                    "/srv/state",
                    "--host-pid=1"});
  ASSERT_TRUE(cli) << cli.error().message();
  const ServiceConfig& c = cli->config;
  EXPECT_EQ(c.socket_path, "/tmp/x.sock");
  EXPECT_EQ(c.socket_group, "adm");
  EXPECT_EQ(c.dump_dir, "/tmp/d");
  EXPECT_EQ(c.resync_interval, 0ms);
  EXPECT_EQ(c.lonely_timeout, 1500ms);
  EXPECT_EQ(c.flush_period, 200ms);
  EXPECT_EQ(c.capacity, 16u);
  EXPECT_EQ(c.max_per_owner, 3u);
  EXPECT_EQ(c.max_devices, 64u);
  EXPECT_TRUE(c.no_ebpf);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.runtime_root, "/srv/state");
  EXPECT_EQ(c.host_pid, 1u);
}

TEST(Config, RefusesBadValuesWithTheFlagName) {
  struct Case {
    std::vector<std::string> args;
    const char* mention;
  } cases[] = {
      {{"--capacity", "0"}, "capacity"},
      {{"--capacity", "ten"}, "capacity"},
      {{"--max-per-owner", "0"}, "max-per-owner"},
      {{"--max-devices", "-5"}, "max-devices"},
      {{"--flush-period", "0"}, "flush-period"},
      {{"--lonely-timeout", "-1"}, "lonely-timeout"},
      {{"--socket", "relative.sock"}, "socket"},
      {{"--log-level", "loud"}, "log-level"},
      {{"--host-pid", "0"}, "host-pid"},
      {{"--host-pid", "init"}, "host-pid"},
      {{"--host-pid", "99999999"}, "host-pid"},
      {{"--runtime-root", "state"}, "runtime-root"},
      {{"--metrics-max-series", "0"}, "metrics-max-series"},
      {{"--metrics-min-interval", "0"}, "metrics-min-interval"},
      {{"--node-name", ""}, "node-name"},
      {{"--node-name", "a b"}, "node-name"},
      {{"--node-name", "a\xff"}, "node-name"},
      {{"--node-name", std::string(254, 'n')}, "node-name"},
      {{"--metrics-namespaces=maybe"}, "metrics-namespaces"},
      {{"--event-log", "syslog"}, "event-log"},
      {{"--event-log", "file:relative"}, "event-log"},
      {{"--bogus", "1"}, "--bogus"},
      {{"--socket"}, "--socket"},
      {{"stray"}, "stray"},
  };
  for (const auto& c : cases) {
    auto cli = parse(c.args);
    ASSERT_FALSE(cli) << c.args[0];
    EXPECT_NE(cli.error().message().find(c.mention), std::string::npos) << cli.error().message();
  }
}

TEST(Config, TheFleetFlags) {
  auto cli = parse({"--metrics-namespaces", "--metrics-min-interval", "2.5", "--metrics-max-series", "5000",
                    "--node-name", "node-1.example"});
  ASSERT_TRUE(cli) << cli.error().message();
  EXPECT_TRUE(cli->config.metrics_namespaces);
  EXPECT_EQ(cli->config.metrics_min_interval, std::chrono::milliseconds(2500));
  EXPECT_EQ(cli->config.metrics_max_series, 5000u);
  EXPECT_EQ(cli->config.node_name, "node-1.example");
  auto defaults = parse({});
  ASSERT_TRUE(defaults);
  EXPECT_FALSE(defaults->config.metrics_namespaces);
  EXPECT_EQ(defaults->config.metrics_min_interval, std::chrono::seconds(10));
  EXPECT_EQ(defaults->config.metrics_max_series, 100000u);
  EXPECT_EQ(defaults->config.node_name, "") << "the hostname, looked up at start";
  EXPECT_EQ(defaults->config.event_log, "auto") << "journald under systemd, else off";
  for (const char* where : {"journald", "stdout", "off", "file:/var/log/netnsd/events.ndjson"}) {
    auto cli = parse({"--event-log", where});
    ASSERT_TRUE(cli) << where;
    EXPECT_EQ(cli->config.event_log, where);
  }
}

TEST(Config, HelpAndVersion) {
  EXPECT_EQ(parse({"--help"})->action, CliAction::help);
  EXPECT_EQ(parse({"--version"})->action, CliAction::version);
  EXPECT_NE(usage().find("--resync-interval"), std::string::npos);
}

TEST(Config, FileSettingsApplyAndFlagsOverrideThem) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/netnsd.conf";
  {
    std::ofstream f(path);
    f << "# netnsd settings\n"
         "socket = /tmp/from-file.sock\n"
         "capacity = 64   # comment\n"
         "no_ebpf = true\n"
         "dump-dir = \"/tmp/file dumps\"\n";
  }
  auto cli = parse({"--config", path, "--capacity", "8"});
  ASSERT_TRUE(cli) << cli.error().message();
  EXPECT_EQ(cli->config.socket_path, "/tmp/from-file.sock");
  EXPECT_EQ(cli->config.capacity, 8u);
  EXPECT_TRUE(cli->config.no_ebpf);
  EXPECT_EQ(cli->config.dump_dir, "/tmp/file dumps");
}

TEST(Config, FileErrorsNameTheLine) {
  ServiceConfig c;
  Status st = apply_config_text("capacity = 4\nwhat = 1\n", c, "x.conf");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), "x.conf:2: unknown setting 'what'");
  EXPECT_FALSE(apply_config_text("justaword\n", c, "x.conf"));
}

}  // namespace
}  // namespace netnsd
