//! ferrokv persistence: RDB snapshots and the AOF, byte-compatible with Redis 7.0.
//! Nothing here yet; see the persistence issue.
