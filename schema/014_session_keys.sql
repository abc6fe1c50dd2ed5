-- Fixed-width keys for the version of a session (ota_stream/storage/queries/stability_sql.py). Merging the window's
-- sessions per (device, session) on the `first` strings of 011_sessions.sql cost most of /analytics/stability and of
-- the release rows' crash-free rates at 10M events: a String min() per session. Per row of session_hourly:
-- - earliest: (epoch ms << 64) | cityHash64(version) of `first`, the row's earliest versioned event; no version is
--   the largest UInt128, so that min() takes any row that has one. The session's version is its smallest earliest's.
-- - mirror: the same with the milliseconds inverted (bitNot), under max(); no version is 0. Among the events at the
--   session's earliest millisecond, earliest holds the smallest version hash and mirror the largest. When they
--   differ, two of the session's rows (two inserts of one hour, not merged yet) start at one millisecond under two
--   versions, and only their `first` strings (which keep the event_ids) say which is earlier: the queries read those
--   for such sessions alone.
-- Both are computed from `first` (a DEFAULT; `if` evaluates both branches, hence toUInt64OrZero on the "~"): the view of 011 fills them as it inserts, and the rows stored before
-- this migration are rewritten by MATERIALIZE (until then, read through the same expressions).
ALTER TABLE session_hourly ADD COLUMN IF NOT EXISTS earliest SimpleAggregateFunction(min, UInt128)
    DEFAULT if(startsWith(first, '~'), toUInt128('340282366920938463463374607431768211455'),
        bitOr(bitShiftLeft(toUInt128(toUInt64OrZero(substring(first, 1, 13))), 64),
              toUInt128(cityHash64(substring(first, position(first, '\0\0') + 2)))))
    AFTER first;

ALTER TABLE session_hourly ADD COLUMN IF NOT EXISTS mirror SimpleAggregateFunction(max, UInt128)
    DEFAULT if(startsWith(first, '~'), toUInt128(0),
        bitOr(bitShiftLeft(toUInt128(bitNot(toUInt64OrZero(substring(first, 1, 13)))), 64),
              toUInt128(cityHash64(substring(first, position(first, '\0\0') + 2)))))
    AFTER earliest;

ALTER TABLE session_hourly MATERIALIZE COLUMN earliest;

ALTER TABLE session_hourly MATERIALIZE COLUMN mirror;
