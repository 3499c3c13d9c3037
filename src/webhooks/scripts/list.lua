#!lua flags=no-writes
-- Every webhook of the task (its JSON) with its delivery log.
-- KEYS[1]: task. args: logPrefix.
local args = cjson.decode(ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 4) == 'sub:' then
    table.insert(out, {fields[i + 1], redis.call('LRANGE', args.logPrefix .. string.sub(fields[i], 5), 0, -1)})
  end
end
return out
