#!lua
-- Claims up to `limit` due messages for one attempt each: id, meta, body and attempt number of each.
-- Messages of webhooks that ended are dropped unsent.
-- KEYS: due, pending. args: now, leaseMs, limit, token, messagePrefix, taskPrefix.
local args = cjson.decode(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', args.now, 'LIMIT', 0, args.limit)
local out = {}
for _, id in ipairs(ids) do
  local key = args.messagePrefix .. id
  local meta = redis.call('HGET', key, 'meta')
  local live = false
  if meta then
    local message = cjson.decode(meta)
    local text = redis.call('HGET', args.taskPrefix .. message.taskKey, 'sub:' .. message.webhookId)
    live = text and cjson.decode(text).state == 'active'
  end
  if live then
    redis.call('ZADD', KEYS[1], args.now + args.leaseMs, id)
    redis.call('HSET', key, 'token', args.token)
    table.insert(out, {id, meta, redis.call('HGET', key, 'body'), redis.call('HINCRBY', key, 'attempts', 1)})
  else
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
