#!lua
-- Hands claimed messages back, due at `now`, their attempt not counted.
-- KEYS[1]: due. args: now, messagePrefix, messages ({token, id}).
local args = cjson.decode(ARGV[1])
for _, message in ipairs(args.messages) do
  local key = args.messagePrefix .. message.id
  if redis.call('HGET', key, 'token') == message.token then
    redis.call('HDEL', key, 'token')
    redis.call('HINCRBY', key, 'attempts', -1)
    redis.call('ZADD', KEYS[1], 'XX', args.now, message.id)
  end
end
return 1
