#!lua
-- Takes over up to `limit` watched tasks whose lease has run out: each claimed task's id and hash.
-- KEYS[1]: watching. args: now, leaseMs, limit, token, taskPrefix.
local args = cjson.decode(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', args.now, 'LIMIT', 0, args.limit)
local out = {}
for _, id in ipairs(ids) do
  local key = args.taskPrefix .. id
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    redis.call('ZADD', KEYS[1], args.now + args.leaseMs, id)
    redis.call('HSET', key, 'owner', args.token)
    table.insert(out, {id, redis.call('HGETALL', key)})
  end
end
return out
