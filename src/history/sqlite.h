// A thin, owning wrapper over SQLite's C API: a connection, prepared
// statements with typed binds and columns, and errors as values. Nothing of
// the journal's meaning lives here.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace netnsd::sql {

// Errors carry SQLite's message, and the errno of the failed system call
// where SQLite kept one (a full disk, a read-only directory).
class Statement;

class Connection {
 public:
  // SQLITE_OPEN_* flags; a busy handler waits up to `busy` for a lock.
  static Result<Connection> open(const std::string& path, int flags, std::chrono::milliseconds busy);
  Connection() = default;
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  explicit operator bool() const { return db_ != nullptr; }
  sqlite3* get() const { return db_.get(); }
  // Runs one or more statements that return no rows (or whose rows are not wanted).
  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  // The first column of the first row of a query, as an integer.
  Result<std::int64_t> scalar(std::string_view sql);
  Error error(std::string_view doing) const;
  int last_code() const;

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Close> db_;
};

class Statement {
 public:
  Statement() = default;
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;

  // Binds are 1-based, as in SQL's ?1.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, const void* data, std::size_t size);
  Statement& bind_null(int index);
  template <class T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, std::uint32_t value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, std::uint64_t value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }

  // True with a row to read, false when done; an error otherwise.
  Result<bool> step();
  // Steps to the end (for statements that return no rows).
  Status run();
  // Resets for another execution, clearing the binds.
  void reset();

  std::int64_t integer(int column) const;
  std::optional<std::int64_t> maybe_integer(int column) const;
  std::string text(int column) const;
  std::string blob(int column) const;
  bool is_null(int column) const;

 private:
  friend class Connection;
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Statement(sqlite3_stmt* s, sqlite3* db) : stmt_(s), db_(db) {}
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
  sqlite3* db_ = nullptr;
};

}  // namespace netnsd::sql
