#!lua flags=no-writes
-- The first of several entries that holds a value: its position (1-based), the value and its remaining lifetime.
-- KEYS: the entries, in the order asked.
for index, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value then return {index, value, redis.call('PTTL', key)} end
end
return false
