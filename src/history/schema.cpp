#include "history/schema.h"

#include <string>
#include <vector>

namespace netnsd::history {

const std::vector<std::string_view>& schema_steps() {
  static const std::vector<std::string_view> steps = {
      // Version 1.
      R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE runs(id INTEGER PRIMARY KEY, boot_id TEXT NOT NULL, version TEXT NOT NULL,
                  started_us INTEGER NOT NULL, seen_us INTEGER NOT NULL, stopped_us INTEGER);
CREATE TABLE gaps(id INTEGER PRIMARY KEY, from_us INTEGER NOT NULL, to_us INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE INDEX gaps_to ON gaps(to_us);
CREATE TABLE namespaces(id INTEGER PRIMARY KEY, boot_id TEXT NOT NULL, cookie INTEGER NOT NULL, inode INTEGER NOT NULL,
                        owner_uid INTEGER, owner_userns INTEGER, owner_host INTEGER NOT NULL, source TEXT NOT NULL,
                        from_us INTEGER NOT NULL, to_us INTEGER NOT NULL, end_observed INTEGER NOT NULL DEFAULT 1,
                        end_reason TEXT);
CREATE INDEX namespaces_inode ON namespaces(inode, to_us);
CREATE INDEX namespaces_to ON namespaces(to_us);
CREATE TABLE attributions(id INTEGER PRIMARY KEY, ns INTEGER NOT NULL, names TEXT NOT NULL, containers TEXT NOT NULL,
                          lonely_since_us INTEGER, from_us INTEGER NOT NULL, to_us INTEGER NOT NULL);
CREATE INDEX attributions_ns ON attributions(ns, to_us);
CREATE INDEX attributions_to ON attributions(to_us);
CREATE TABLE devices(id INTEGER PRIMARY KEY, ns INTEGER NOT NULL, ifindex INTEGER NOT NULL, name BLOB NOT NULL,
                     mac TEXT NOT NULL, body TEXT NOT NULL, from_us INTEGER NOT NULL, to_us INTEGER NOT NULL);
CREATE INDEX devices_ns ON devices(ns, to_us);
CREATE INDEX devices_name ON devices(name, to_us);
CREATE INDEX devices_mac ON devices(mac, to_us);
CREATE INDEX devices_to ON devices(to_us);
CREATE TABLE addresses(id INTEGER PRIMARY KEY, ns INTEGER NOT NULL, ifindex INTEGER NOT NULL, address TEXT NOT NULL,
                       body TEXT NOT NULL, from_us INTEGER NOT NULL, to_us INTEGER NOT NULL,
                       from_seq INTEGER, to_seq INTEGER);
CREATE INDEX addresses_ns ON addresses(ns, to_us);
CREATE INDEX addresses_address ON addresses(address, to_us);
CREATE INDEX addresses_to ON addresses(to_us);
CREATE TABLE changes(seq INTEGER PRIMARY KEY, at_us INTEGER NOT NULL, ns INTEGER, kind TEXT NOT NULL,
                     device BLOB, address TEXT, body TEXT NOT NULL);
CREATE INDEX changes_at ON changes(at_us);
CREATE INDEX changes_ns ON changes(ns, seq);
CREATE INDEX changes_device ON changes(device, seq) WHERE device IS NOT NULL;
CREATE INDEX changes_address ON changes(address, seq) WHERE address IS NOT NULL;
)sql",
      // Version 2: the processes seen in a namespace are part of its
      // attribution (NULL in rows from version 1: not recorded then).
      R"sql(
ALTER TABLE attributions ADD COLUMN processes TEXT;
)sql",
  };
  return steps;
}

Status migrate(sql::Connection& db) {
  auto version = db.scalar("PRAGMA user_version");
  if (!version) return version.error();
  const int latest = schema_version();
  if (*version > latest) {
    return Error::logic("the journal was written by a newer netnsd (schema version " + std::to_string(*version) +
                        ", this one knows up to " + std::to_string(latest) + ")");
  }
  if (*version == latest) return {};
  if (Status st = db.exec("BEGIN IMMEDIATE"); !st) return st;
  for (int step = static_cast<int>(*version); step < latest; ++step) {
    if (Status st = db.exec(schema_steps()[static_cast<std::size_t>(step)]); !st) {
      (void)db.exec("ROLLBACK");
      return Error::logic("migrating the journal to version " + std::to_string(step + 1) + ": " + st.error().message());
    }
  }
  if (Status st = db.exec("PRAGMA user_version = " + std::to_string(latest)); !st) {
    (void)db.exec("ROLLBACK");
    return st;
  }
  return db.exec("COMMIT");
}

}  // namespace netnsd::history
