#!lua
-- Claims up to `limit` due messages for one attempt each, at most `perTarget` in flight per
-- receiver (`busy`: those already in flight there): id, meta, body and attempt number of each.
-- Only receivers with something due are looked at, busy ones skipped without touching their
-- queues: at most `#busy` of them are full, so `limit` more receivers always hold any room.
-- Messages of webhooks that ended are dropped unsent.
-- args: ctx (helpers.lua), leaseMs, limit, busyCount, perTarget, busy, token, messagePrefix.
local args = cjson.decode(ARGV[1])
local ctx = args.ctx
local targets = redis.call('ZRANGEBYSCORE', ctx.dueTargets, '-inf', ctx.now, 'LIMIT', 0, args.busyCount + args.limit)
local out = {}
for _, target in ipairs(targets) do
  if #out >= args.limit then break end
  local room = math.min(args.perTarget - (args.busy[target] or 0), args.limit - #out)
  if room > 0 then
    local queue = ctx.duePrefix .. target
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', queue, '-inf', ctx.now, 'LIMIT', 0, room)) do
      local key = args.messagePrefix .. id
      local meta = redis.call('HGET', key, 'meta')
      local message = meta and cjson.decode(meta)
      local live = false
      if message then
        local text = redis.call('HGET', ctx.taskPrefix .. message.taskKey, 'sub:' .. message.webhookId)
        live = text and cjson.decode(text).state == 'active'
      end
      if live then
        redis.call('ZADD', queue, ctx.now + args.leaseMs, id)
        redis.call('HSET', key, 'token', args.token)
        table.insert(out, {id, meta, redis.call('HGET', key, 'body'), redis.call('HINCRBY', key, 'attempts', 1)})
      else
        redis.call('DEL', key)
        redis.call('ZREM', queue, id)
        redis.call('ZREM', ctx.pending, id)
      end
    end
    refreshTarget(target, ctx)
  end
end
return out
