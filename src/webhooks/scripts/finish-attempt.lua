#!lua
-- Logs an attempt and settles its message, if `token` still holds the message's claim.
-- KEYS: message, task, due, pending, active, log.
-- args: token, delivery (JSON text), next (done, gone, retry, abandoned), retryAt, messageId, webhookId, logMax, retention,
-- keepEnded, logPrefix.
local args = cjson.decode(ARGV[1])
if redis.call('HGET', KEYS[1], 'token') ~= args.token then return 0 end
redis.call('RPUSH', KEYS[6], args.delivery)
redis.call('LTRIM', KEYS[6], -args.logMax, -1)
redis.call('PEXPIRE', KEYS[6], args.retention)
if args.next == 'retry' then
  redis.call('ZADD', KEYS[3], args.retryAt, args.messageId)
  redis.call('HDEL', KEYS[1], 'token')
  return 1
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], args.messageId)
redis.call('ZREM', KEYS[4], args.messageId)
local sub = decoded(redis.call('HGET', KEYS[2], 'sub:' .. args.webhookId))
if sub then
  sub.pending = math.max(0, (sub.pending or 0) - 1)
  if sub.state == 'active' then
    if args.next == 'gone' then
      endSub(sub, 'gone', KEYS[5])
      redis.call('HINCRBY', KEYS[2], 'version', 1)
    elseif sub.final and sub.pending == 0 then
      endSub(sub, sub.endedReason or 'finished', KEYS[5])
    end
  end
  redis.call('HSET', KEYS[2], 'sub:' .. args.webhookId, cjson.encode(sub))
  if sub.state ~= 'active' then pruneEnded(KEYS[2], args.keepEnded, args.logPrefix) end
  redis.call('PEXPIRE', KEYS[2], args.retention)
end
return 1
