-- spec/support/gc_stress.lua -- busted helper for the GC-stress pass of the
-- test command: the collector runs in generational mode, and a debug hook
-- forces a full collection every TORCHLET_GC_EVERY VM instructions (default
-- 1000), so handles die between almost any two operations.  Finalizers
-- then run in every order a program could see.
collectgarbage("generational")
local every = tonumber(os.getenv("TORCHLET_GC_EVERY")) or 1000
local collect = collectgarbage
debug.sethook(function() collect("collect") end, "", every)
