-- Shared by the webhook scripts that name this file (put in after their first line).
-- `ctx` says where things are: active (the fleet's active webhooks), clientPrefix, logPrefix,
-- taskPrefix, watching, duePrefix, dueTargets, pending, now, retention, keepEnded.

local function decoded(text) if text then return cjson.decode(text) end return nil end

-- A webhook in its client's index: its id and its task (webhook ids never hold a ':').
local function clientMember(sub, taskKey) return sub.id .. ':' .. taskKey end

-- Adds a webhook last to its client's ended ones: scored by when it ended, and after every
-- one already there (several end within one millisecond, and ties would sort by id).
local function addEnded(endedKey, member, ctx)
  local last = redis.call('ZRANGE', endedKey, -1, -1, 'WITHSCORES')
  local score = ctx.now
  if last[2] and tonumber(last[2]) >= score then score = tonumber(last[2]) + 1 end
  redis.call('ZADD', endedKey, score, member)
  redis.call('PEXPIRE', endedKey, ctx.retention)
end

-- Ends a webhook: nothing new is delivered to it; it leaves the active counts and joins
-- its client's ended ones, last in the order they are forgotten.
local function endSub(sub, reason, taskKey, ctx)
  sub.state = 'ended'
  sub.endedReason = reason
  redis.call('ZREM', ctx.active, sub.id)
  if sub.client then
    local member = clientMember(sub, taskKey)
    redis.call('ZREM', ctx.clientPrefix .. sub.client .. ':active', member)
    addEnded(ctx.clientPrefix .. sub.client .. ':ended', member, ctx)
  end
end

-- True when the task hash holds no webhook any more.
local function noWebhooks(taskHash)
  for _, field in ipairs(redis.call('HKEYS', taskHash)) do
    if string.sub(field, 1, 4) == 'sub:' then return false end
  end
  return true
end

-- Forgets one webhook with its log; a task left without webhooks goes too (and is not watched).
local function forget(taskKey, sub, ctx)
  local taskHash = ctx.taskPrefix .. taskKey
  redis.call('HDEL', taskHash, 'sub:' .. sub.id)
  redis.call('DEL', ctx.logPrefix .. sub.id)
  redis.call('ZREM', ctx.active, sub.id)
  if sub.client then
    local member = clientMember(sub, taskKey)
    redis.call('ZREM', ctx.clientPrefix .. sub.client .. ':active', member)
    redis.call('ZREM', ctx.clientPrefix .. sub.client .. ':ended', member)
  end
  if noWebhooks(taskHash) then
    redis.call('DEL', taskHash)
    redis.call('ZREM', ctx.watching, taskKey)
  end
end

-- Keeps the task's latest `ctx.keepEnded` ended webhooks (by creation), forgetting older ones.
local function pruneEnded(taskKey, ctx)
  local fields = redis.call('HGETALL', ctx.taskPrefix .. taskKey)
  local ended = {}
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 4) == 'sub:' then
      local sub = cjson.decode(fields[i + 1])
      if sub.state ~= 'active' then table.insert(ended, sub) end
    end
  end
  if #ended <= ctx.keepEnded then return end
  table.sort(ended, function(left, right)
    if left.createdAt ~= right.createdAt then return left.createdAt < right.createdAt end
    return left.id < right.id
  end)
  for i = 1, #ended - ctx.keepEnded do forget(taskKey, ended[i], ctx) end
end

-- Due messages are queued per receiver (`ctx.duePrefix .. target`, by when each is due or
-- its claim runs out), and `ctx.dueTargets` holds each receiver by its queue's earliest
-- time, so a claim looks only at receivers with something due and room for it.
local function refreshTarget(target, ctx)
  local first = redis.call('ZRANGE', ctx.duePrefix .. target, 0, 0, 'WITHSCORES')
  if first[2] then
    redis.call('ZADD', ctx.dueTargets, first[2], target)
    redis.call('PEXPIRE', ctx.dueTargets, ctx.retention)
  else
    redis.call('ZREM', ctx.dueTargets, target)
  end
end

local function schedule(target, id, score, ctx)
  local queue = ctx.duePrefix .. target
  redis.call('ZADD', queue, score, id)
  redis.call('PEXPIRE', queue, ctx.retention)
  refreshTarget(target, ctx)
end

local function unschedule(target, id, ctx)
  redis.call('ZREM', ctx.duePrefix .. target, id)
  refreshTarget(target, ctx)
end
