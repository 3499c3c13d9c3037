-- Shared by the webhook scripts that name this file (put in after their first line).
local function decoded(text) if text then return cjson.decode(text) end return nil end

-- Ends a webhook: nothing new is delivered to it, and it leaves the fleet's active count.
local function endSub(sub, reason, activeKey)
  sub.state = 'ended'
  sub.endedReason = reason
  redis.call('ZREM', activeKey, sub.id)
end
