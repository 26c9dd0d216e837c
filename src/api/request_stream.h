// RequestStream: what cpp-httplib reads a request from and writes its
// answer to. Internal to the api layer (it derives from httplib::Stream).
//
// The request is the bytes the Connections reader already holds (the whole
// request); the answer goes to the connection itself, each write making
// progress within `patience`. The peer's credentials travel as the "remote
// address" (uid) and port (pid).
//
// Every other answer has a budget for the whole of it: once its first byte
// is written, the client must take it within `grace` plus its size at
// `min_rate` (bytes per second), or it is cut, counted as a slow reader. A
// dump holds its lane's worker (its slot) while it is sent, so a client
// reading a large image a trickle at a time would otherwise hold a slot for
// minutes.
//
// A change stream's reader must also take something within `patience`: on
// a quiet host its heartbeats (80 bytes every 15 s) would fit in the
// socket's buffer for hours, so a stopped (or suspended) reader would hold
// its place in the feed all that time without a write ever blocking.
// SIOCOUTQ says how much of what was sent the reader has not taken yet.
#pragma once

#include <httplib.h>

#include <chrono>
#include <optional>
#include <string>

#include "api/connections.h"

namespace netnsd {

// How fast an answer must be taken: `grace` from its first byte, then at
// least `min_rate` bytes per second.
struct ReadBudget {
  std::chrono::milliseconds grace;
  std::size_t min_rate;
};

class RequestStream final : public httplib::Stream {
 public:
  // An answer, within `budget`, each write progressing within `patience`.
  RequestStream(const std::string& request, int fd, const Peer& peer, Connections& connections,
                std::chrono::milliseconds patience, ReadBudget budget)
      : request_(request), fd_(fd), peer_(peer), connections_(connections), patience_(patience), budget_(budget) {}
  // A change stream: no budget, but its reader must take something within
  // `stall_limit`.
  RequestStream(const std::string& request, int fd, const Peer& peer, Connections& connections,
                std::chrono::milliseconds stall_limit)
      : request_(request),
        fd_(fd),
        peer_(peer),
        connections_(connections),
        patience_(stall_limit),
        reader_must_progress_(true) {}

  bool is_readable() const override { return offset_ < request_.size(); }
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  // Never 0: cpp-httplib would retry a 0 forever.
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  // Bytes sent that the reader has not taken (-1: unknown).
  int unread() const;
  // Whether the reader took something (or everything) since the last write,
  // or did within `patience`.
  bool reader_progressed();
  // When the answer must have been taken up to `offset` bytes.
  std::chrono::steady_clock::time_point due(std::size_t offset) const;

  const std::string& request_;
  std::size_t offset_ = 0;
  int fd_;
  Peer peer_;
  Connections& connections_;
  std::chrono::milliseconds patience_;  // how long a write, or a change stream's reader, may make no progress
  std::optional<ReadBudget> budget_;
  bool reader_must_progress_ = false;
  std::optional<std::chrono::steady_clock::time_point> first_write_;
  std::size_t written_ = 0;  // bytes of the answer written so far
  int queued_after_write_ = 0;
  std::chrono::steady_clock::time_point reader_seen_ = std::chrono::steady_clock::now();
};

}  // namespace netnsd
