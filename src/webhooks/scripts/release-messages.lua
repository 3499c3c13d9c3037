#!lua
-- Hands claimed messages back, due at `ctx.now`, their attempt not counted.
-- args: ctx (helpers.lua), messagePrefix, messages ({token, id, target}).
local args = cjson.decode(ARGV[1])
local ctx = args.ctx
for _, message in ipairs(args.messages) do
  local key = args.messagePrefix .. message.id
  if redis.call('HGET', key, 'token') == message.token then
    redis.call('HDEL', key, 'token')
    redis.call('HINCRBY', key, 'attempts', -1)
    schedule(message.target, message.id, ctx.now, ctx)
  end
end
return 1
