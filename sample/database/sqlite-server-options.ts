/**
 * better-sqlite3 settings for a server (README "Scaling"), the common production set (Rails 8
 * ships the same defaults): WAL, so reads never wait for a write and a write waits only for
 * another write; `synchronous = NORMAL`, safe with WAL (no fsync per commit: a process crash loses
 * nothing, a power loss may undo the last commits); a 64 MB bound on the WAL file. TypeORM's
 * better-sqlite3 driver already waits up to 5 s for a lock (`timeout`, the busy timeout).
 */
export const SQLITE_SERVER_OPTIONS = {
  enableWAL: true,
  prepareDatabase(db: { pragma(source: string): unknown }): void {
    db.pragma('synchronous = NORMAL');
    db.pragma('journal_size_limit = 67108864');
  },
} as const;
