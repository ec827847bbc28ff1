-- Every request a new address (a `render=<run>-<thread>-<n>` parameter the views ignore), so no
-- page cache can answer it: what a page costs when it has to be rendered. The run token comes
-- from bench/load.py (`wrk ... -- <token>`), as wrk is started several times per page.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  prefix = (args[1] or "run") .. "-" .. thread_id .. "-"
  counter = 0
  separator = string.find(wrk.path, "?", 1, true) and "&" or "?"
end

function request()
  counter = counter + 1
  return wrk.format(nil, wrk.path .. separator .. "render=" .. prefix .. counter)
end
