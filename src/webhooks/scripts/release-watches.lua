#!lua
-- Gives up the watch leases `token` holds, claimable by anyone from `claimableAt`.
-- KEYS[1]: watching. args: claimableAt, token, taskPrefix, taskKeys.
local args = cjson.decode(ARGV[1])
for _, id in ipairs(args.taskKeys) do
  local key = args.taskPrefix .. id
  if redis.call('HGET', key, 'owner') == args.token then
    redis.call('HDEL', key, 'owner')
    redis.call('ZADD', KEYS[1], 'XX', args.claimableAt, id)
  end
end
return 1
