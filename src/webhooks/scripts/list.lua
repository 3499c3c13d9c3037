#!lua flags=no-writes
-- The client's webhooks of the tasks (their JSON) with their delivery logs.
-- KEYS: the tasks (where one id may route to). args: logPrefix, client.
local args = cjson.decode(ARGV[1])
local out = {}
for _, key in ipairs(KEYS) do
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 4) == 'sub:' and cjson.decode(fields[i + 1]).client == args.client then
      table.insert(out, {fields[i + 1], redis.call('LRANGE', args.logPrefix .. string.sub(fields[i], 5), 0, -1)})
    end
  end
end
return out
