-- Every request a new address (a `render=<n>` parameter the views ignore), so no page cache
-- can answer it: what a page costs when it has to be rendered.
local counter = 0
local separator = string.find(wrk.path, "?", 1, true) and "&" or "?"

request = function()
  counter = counter + 1
  return wrk.format(nil, wrk.path .. separator .. "render=" .. counter)
end
