#!lua
-- The marker of the data the fleet keeps in Redis: its value is created when it is missing
-- and its lifetime renewed; answers the value. A value that changed means Redis lost its data.
-- KEYS[1]: the marker. args: candidate (the value if it is created), ttlMs.
local args = cjson.decode(ARGV[1])
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], args.candidate, 'PX', args.ttlMs)
  return args.candidate
end
redis.call('PEXPIRE', KEYS[1], args.ttlMs)
return value
