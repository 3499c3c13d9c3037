#!lua flags=no-writes
-- The number of pending messages and the oldest one with its event time.
-- KEYS[1]: pending.
return {redis.call('ZCARD', KEYS[1]), redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')}
