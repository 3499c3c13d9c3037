-- Shared by the webhook scripts that name this file (put in after their first line).
local function decoded(text) if text then return cjson.decode(text) end return nil end

-- Ends a webhook: nothing new is delivered to it, and it leaves the fleet's active count.
local function endSub(sub, reason, activeKey)
  sub.state = 'ended'
  sub.endedReason = reason
  redis.call('ZREM', activeKey, sub.id)
end

-- Keeps the task's latest `keep` ended webhooks (by creation), forgetting older ones with their logs.
local function pruneEnded(taskKey, keep, logPrefix)
  local fields = redis.call('HGETALL', taskKey)
  local ended = {}
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 4) == 'sub:' then
      local sub = cjson.decode(fields[i + 1])
      if sub.state ~= 'active' then table.insert(ended, sub) end
    end
  end
  if #ended <= keep then return end
  table.sort(ended, function(left, right)
    if left.createdAt ~= right.createdAt then return left.createdAt < right.createdAt end
    return left.id < right.id
  end)
  for i = 1, #ended - keep do
    redis.call('HDEL', taskKey, 'sub:' .. ended[i].id)
    redis.call('DEL', logPrefix .. ended[i].id)
  end
end
