-- A journal as schema version 1 wrote it (netnsd 0.3): the tables, and a
-- namespace with a device and an address, from a run that never said it
-- stopped. Never edit: it is what an upgrade must open.
PRAGMA auto_vacuum = INCREMENTAL;
PRAGMA journal_mode = WAL;
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
INSERT INTO meta VALUES('retained_from_us', 1800000000000000);
INSERT INTO meta VALUES('last_seq', 3);
INSERT INTO runs VALUES(1, 'boot-a', '0.3.0', 1800000000000000, 1800000020000000, NULL);
INSERT INTO namespaces VALUES(1, 'boot-a', 77, 4026532500, 0, 4026531837, 1, 'procfs', 1800000001000000, 9223372036854775807, 1, NULL);
INSERT INTO attributions VALUES(1, 1, '["red"]', '[]', NULL, 1800000001000000, 9223372036854775807);
INSERT INTO devices VALUES(1, 1, 2, X'65746830', '02:00:00:00:00:12',
  '{"a":"02:00:00:00:00:12","i":2,"k":"veth","m":1500,"n":"eth0","o":"up","u":true}', 1800000002000000, 9223372036854775807);
INSERT INTO addresses VALUES(1, 1, 2, '10.0.0.2', '{"F":128,"a":"10.0.0.2","f":2,"p":24,"s":0}', 1800000002000000, 9223372036854775807, 2, NULL);
INSERT INTO changes VALUES(1, 1800000001000000, 1, 'netns_added', NULL, NULL, '{"seq":1,"type":"netns_added","netns":4026532500}');
INSERT INTO changes VALUES(2, 1800000002000000, 1, 'device_added', X'65746830', NULL, '{"seq":2,"type":"device_added","netns":4026532500}');
INSERT INTO changes VALUES(3, 1800000003000000, 1, 'address_added', X'65746830', '10.0.0.2', '{"seq":3,"type":"address_added","netns":4026532500}');
PRAGMA user_version = 1;
