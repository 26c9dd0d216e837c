#include "history/sqlite.h"

namespace netnsd::sql {

Result<Connection> Connection::open(const std::string& path, int flags, std::chrono::milliseconds busy) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection c;
  c.db_.reset(raw);
  if (rc != SQLITE_OK) {
    const int os = raw ? sqlite3_system_errno(raw) : 0;
    return Error{os, "open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))};
  }
  sqlite3_extended_result_codes(raw, 0);
  sqlite3_busy_timeout(raw, static_cast<int>(busy.count()));
  return c;
}

Error Connection::error(std::string_view doing) const {
  const int os = sqlite3_system_errno(db_.get());
  return Error{os, std::string(doing) + ": " + sqlite3_errmsg(db_.get())};
}

int Connection::last_code() const {
  return sqlite3_errcode(db_.get()) & 0xff;
}

Status Connection::exec(std::string_view sql) {
  const std::string text(sql);
  if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return error(text.substr(0, text.find_first_of("( ", 20)));
  }
  return {};
}

Result<Statement> Connection::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw,
                         nullptr) != SQLITE_OK) {
    return error("prepare " + std::string(sql.substr(0, 60)));
  }
  return Statement(raw, db_.get());
}

Result<std::int64_t> Connection::scalar(std::string_view sql) {
  auto st = prepare(sql);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return Error::logic("no row from " + std::string(sql));
  return st->integer(0);
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_.get(), index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_.get(), index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_blob(int index, const void* data, std::size_t size) {
  sqlite3_bind_blob(stmt_.get(), index, data, static_cast<int>(size), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_.get(), index);
  return *this;
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const int os = sqlite3_system_errno(db_);
  Error e{os, std::string("step: ") + sqlite3_errmsg(db_)};
  sqlite3_reset(stmt_.get());
  return e;
}

Status Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) {
      reset();
      return row.error();
    }
    if (!*row) break;
  }
  reset();
  return {};
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Statement::integer(int column) const {
  return sqlite3_column_int64(stmt_.get(), column);
}

std::optional<std::int64_t> Statement::maybe_integer(int column) const {
  if (is_null(column)) return std::nullopt;
  return integer(column);
}

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_.get(), column);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

std::string Statement::blob(int column) const {
  const void* p = sqlite3_column_blob(stmt_.get(), column);
  if (!p) return {};
  return std::string(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

}  // namespace netnsd::sql
