#!lua flags=no-writes
-- The lease's holder and remaining time, and the stored outcome ('' for none).
-- KEYS[1]: the lease, KEYS[2]: the outcome.
return {redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}
