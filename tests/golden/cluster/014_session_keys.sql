ALTER TABLE session_hourly_local ON CLUSTER ota_cluster ADD COLUMN IF NOT EXISTS earliest SimpleAggregateFunction(min, UInt128)
    DEFAULT if(startsWith(first, '~'), toUInt128('340282366920938463463374607431768211455'),
        bitOr(bitShiftLeft(toUInt128(toUInt64OrZero(substring(first, 1, 13))), 64),
              toUInt128(cityHash64(substring(first, position(first, '\0\0') + 2)))))
    AFTER first;

ALTER TABLE session_hourly ON CLUSTER ota_cluster ADD COLUMN IF NOT EXISTS earliest SimpleAggregateFunction(min, UInt128)
    DEFAULT if(startsWith(first, '~'), toUInt128('340282366920938463463374607431768211455'),
        bitOr(bitShiftLeft(toUInt128(toUInt64OrZero(substring(first, 1, 13))), 64),
              toUInt128(cityHash64(substring(first, position(first, '\0\0') + 2)))))
    AFTER first;

ALTER TABLE session_hourly_local ON CLUSTER ota_cluster ADD COLUMN IF NOT EXISTS mirror SimpleAggregateFunction(max, UInt128)
    DEFAULT if(startsWith(first, '~'), toUInt128(0),
        bitOr(bitShiftLeft(toUInt128(bitNot(toUInt64OrZero(substring(first, 1, 13)))), 64),
              toUInt128(cityHash64(substring(first, position(first, '\0\0') + 2)))))
    AFTER earliest;

ALTER TABLE session_hourly ON CLUSTER ota_cluster ADD COLUMN IF NOT EXISTS mirror SimpleAggregateFunction(max, UInt128)
    DEFAULT if(startsWith(first, '~'), toUInt128(0),
        bitOr(bitShiftLeft(toUInt128(bitNot(toUInt64OrZero(substring(first, 1, 13)))), 64),
              toUInt128(cityHash64(substring(first, position(first, '\0\0') + 2)))))
    AFTER earliest;

ALTER TABLE session_hourly_local ON CLUSTER ota_cluster MATERIALIZE COLUMN earliest;

ALTER TABLE session_hourly_local ON CLUSTER ota_cluster MATERIALIZE COLUMN mirror;
