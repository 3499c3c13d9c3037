#!lua
-- Extends the watch leases `token` still holds; answers the tasks it no longer holds.
-- KEYS[1]: watching. args: leaseUntil, token, taskPrefix, taskKeys.
local args = cjson.decode(ARGV[1])
local lost = {}
for _, id in ipairs(args.taskKeys) do
  if redis.call('HGET', args.taskPrefix .. id, 'owner') == args.token and redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], 'XX', args.leaseUntil, id)
  else
    table.insert(lost, id)
  end
end
return lost
