"""The Redis store's server-side script: ``accounting.py`` and the stateful parts of
``algorithms.py`` (``used_before``, ``fits``, ``apply``, ``adjust``), line for line in Lua.

One script, one call per step (``check``, ``reserve``, ``reconcile``, ``release``, ``seed``,
and ``commit`` / ``abort``, the second phase of a cross-shard reserve), atomic on the server.
Every key of one call lives under one hash tag (``{aigw}`` by default), so the script is valid
on Redis Cluster: ``KEYS[1]`` (the pending-reservation index) routes the call, and cells and
records share its slot. ``redis_cluster.py`` calls it once per hash tag a request touches.

Numbers cross the boundary as ``%.17g`` strings (exact for doubles), never as Lua numbers
(which Redis would truncate to integers) nor through cjson (14 digits).

Calendar periods need a time-zone database, so Python computes every slot (cell ids, window
bounds) for the time it expects the server to have; the script checks the server's time falls
in each window and answers ``retry`` with its time when it does not (a window boundary, or a
client clock far off), and Python asks again with slots for that time.
"""

SCRIPT = r"""
local op = ARGV[1]
local P = ARGV[2]
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[3])
end
local PENDING = KEYS[1]

local function F(x) if x == nil then return '' end return string.format('%.17g', x) end
local function N(s) if s == nil or s == '' then return nil end return tonumber(s) end

local function getc(id)
  if id == '' then return nil end
  return N(redis.call('GET', P .. 'c:' .. id))
end
local function putc(id, v, lu)
  local ttl = math.ceil((lu - now + 60) * 1000)
  if ttl < 1000 then ttl = 1000 end
  redis.call('SET', P .. 'c:' .. id, F(v), 'PX', ttl)
end

-- algorithms.py ------------------------------------------------------------------
local function used_before(kind, cur, prev, start, window, iv)
  if kind == 'gcra' then
    if cur == nil then return 0 end
    return (math.max(cur, now) - now) / iv
  end
  local c = cur or 0
  if kind == 'sliding' then
    local p = prev or 0
    local elapsed = now - start
    return p * ((window - elapsed) / window) + c
  end
  return c
end
local function fits(u, cost, cap)
  if cost > 0 then return u + cost <= cap end
  return u < cap
end
local function apply(kind, cur, cost, iv)
  if kind == 'gcra' then
    local b = cur
    if b == nil then b = now end
    return math.max(b, now) + cost * iv
  end
  return (cur or 0) + cost
end
local function adjust(kind, cur, delta, lu, iv)
  if lu >= 0 and now >= lu then return nil end
  if kind == 'gcra' then
    if delta >= 0 then
      local b = cur
      if b == nil then b = now end
      return math.max(b, now) + delta * iv
    end
    if cur == nil or cur <= now then return nil end
    return cur + delta * iv
  end
  return math.max(0, (cur or 0) + delta)
end
local function cell_life(kind, lu, v)
  if kind == 'gcra' then return v end
  return lu
end

-- accounting.py ------------------------------------------------------------------
local function getr(rid)
  local s = redis.call('GET', P .. 'r:' .. rid)
  if not s then return nil end
  return cjson.decode(s)
end
local function putr(rid, rec)
  local ttl = math.ceil((N(rec.keep) - now) * 1000)
  if ttl < 1000 then ttl = 1000 end
  redis.call('SET', P .. 'r:' .. rid, cjson.encode(rec), 'PX', ttl)
end
local function settle(rec, deltas)
  for i, it in ipairs(rec.it) do
    local d = deltas[i] or 0
    if d ~= 0 then
      local lu = N(it.lu)
      local v = adjust(it.k, getc(it.c), d, lu, N(it.iv))
      if v ~= nil then putc(it.c, v, cell_life(it.k, lu, v)) end
    end
  end
end
local function sweep()
  local due = redis.call('ZRANGEBYSCORE', PENDING, '-inf', F(now), 'LIMIT', 0, 100)
  for _, rid in ipairs(due) do
    local rec = getr(rid)
    if rec ~= nil and rec.st == 'reserved' then
      local deltas = {}
      for i, it in ipairs(rec.it) do deltas[i] = -N(it.cost) end
      settle(rec, deltas)
      if rec.tp == '1' and rec.cm ~= '1' then
        redis.call('DEL', P .. 'r:' .. rid)  -- a prepare never committed: forgotten
      else
        rec.st = 'expired'
        putr(rid, rec)
      end
    end
    redis.call('ZREM', PENDING, rid)
  end
end

-- charges: ARGV[5] = count, then 12 fields each
local W = 12
local function charges(base)
  local n = tonumber(ARGV[base])
  local out = {}
  for i = 1, n do
    local a = base + (i - 1) * W
    out[i] = {n = ARGV[a + 1], k = ARGV[a + 2], c = ARGV[a + 3], p = ARGV[a + 4],
              s = tonumber(ARGV[a + 5]), e = tonumber(ARGV[a + 6]), w = tonumber(ARGV[a + 7]),
              iv = tonumber(ARGV[a + 8]), lu = tonumber(ARGV[a + 9]),
              cap = tonumber(ARGV[a + 10]), cost = tonumber(ARGV[a + 11]),
              enf = ARGV[a + 12] == '1'}
  end
  return out
end
local function misplaced(list)
  for _, ch in ipairs(list) do
    if ch.k ~= 'gcra' and (now < ch.s or now >= ch.e) then return true end
  end
  return false
end
local function stage(list)
  local staged = {}
  local reads = {}
  local allok = true
  for i, ch in ipairs(list) do
    local cur, prev
    if staged[ch.c] ~= nil then cur = staged[ch.c] else cur = getc(ch.c) end
    if ch.p ~= '' then
      if staged[ch.p] ~= nil then prev = staged[ch.p] else prev = getc(ch.p) end
    end
    local ok = fits(used_before(ch.k, cur, prev, ch.s, ch.w, ch.iv), ch.cost, ch.cap)
    staged[ch.c] = apply(ch.k, cur, ch.cost, ch.iv)
    reads[i] = {cur, prev}
    if not ok and ch.enf then allok = false end
  end
  return reads, allok
end
local function reply_reserve(rec)
  local out = {'ok', rec.now, rec.adm, rec.meta}
  for _, it in ipairs(rec.it) do
    out[#out + 1] = it.rc
    out[#out + 1] = it.rp
  end
  return out
end

if op == 'check' then
  local list = charges(5)
  if misplaced(list) then return {'retry', F(now)} end
  sweep()
  local reads, allok = stage(list)
  local out = {'ok', F(now), allok and '1' or '0', ''}
  for i = 1, #list do
    out[#out + 1] = F(reads[i][1])
    out[#out + 1] = F(reads[i][2])
  end
  return out
end

if op == 'reserve' then
  -- ARGV[4] = request id, ARGV[5] = count, charges, then ttl, keep, meta, and '1' for the
  -- first phase of a cross-shard reserve (two_phase.py: held for ttl unless committed)
  local rid = ARGV[4]
  local list = charges(5)
  local tail = 5 + #list * W
  local ttl, keep, meta = tonumber(ARGV[tail + 1]), tonumber(ARGV[tail + 2]), ARGV[tail + 3]
  local tp = ARGV[tail + 4] == '1'
  sweep()
  local rec = getr(rid)
  if rec ~= nil then return reply_reserve(rec) end
  if misplaced(list) then return {'retry', F(now)} end
  local reads, allok = stage(list)
  if allok then
    for _, ch in ipairs(list) do
      local v = apply(ch.k, getc(ch.c), ch.cost, ch.iv)
      putc(ch.c, v, cell_life(ch.k, ch.lu, v))
    end
  end
  local items = {}
  for i, ch in ipairs(list) do
    items[i] = {n = ch.n, k = ch.k, c = ch.c, p = ch.p, s = F(ch.s), e = F(ch.e),
                w = F(ch.w), iv = F(ch.iv), lu = F(ch.lu), cost = F(ch.cost),
                rc = F(reads[i][1]), rp = F(reads[i][2])}
  end
  rec = {st = allok and 'reserved' or 'denied', now = F(now), exp = F(now + ttl),
         keep = F(now + keep), adm = allok and '1' or '0', meta = meta, it = items,
         tp = tp and '1' or nil}
  if allok and #list > 0 then  -- a request that reserved nothing keeps no record
    putr(rid, rec)
    redis.call('ZADD', PENDING, F(now + ttl), rid)
  end
  return reply_reserve(rec)
end

local function reply_settled(rec)
  local out = {'ok', rec.meta, rec.sat}
  for i, it in ipairs(rec.it) do
    out[#out + 1] = it.fin
    out[#out + 1] = rec.after[i][1]
    out[#out + 1] = rec.after[i][2]
  end
  return out
end

if op == 'reconcile' then
  -- ARGV[4] = request id, ARGV[5] = count of (name, actual) pairs, the pairs, then
  -- hints: a count and, per hinted item, (index, cur id, prev id, start, end)
  local rid = ARGV[4]
  local np = tonumber(ARGV[5])
  local actual = {}
  for i = 1, np do actual[ARGV[5 + 2 * i - 1]] = tonumber(ARGV[5 + 2 * i]) end
  local hb = 6 + 2 * np
  local hints = {}
  for i = 1, tonumber(ARGV[hb]) do
    local a = hb + (i - 1) * 5
    if now >= tonumber(ARGV[a + 4]) and now < tonumber(ARGV[a + 5]) then
      hints[tonumber(ARGV[a + 1])] = {ARGV[a + 2], ARGV[a + 3]}
    end
  end
  sweep()
  local rec = getr(rid)
  if rec == nil or rec.st == 'denied' or rec.st == 'released' then return {'none'} end
  if rec.st == 'reconciled' then return reply_settled(rec) end
  -- where each limit stands now: the reservation's window, or a later one
  local where = {}
  for i, it in ipairs(rec.it) do
    if it.k == 'gcra' or now < N(it.e) then
      where[i] = {it.c, it.p}
    elseif hints[i] ~= nil then
      where[i] = hints[i]
    else
      return {'need', F(now), cjson.encode(rec)}
    end
  end
  local reserved = rec.st == 'reserved'
  local seen = {}
  local deltas = {}
  for i, it in ipairs(rec.it) do
    local fin = N(it.cost)
    if actual[it.n] ~= nil then
      if seen[it.n] then fin = 0 else fin = actual[it.n] end
      seen[it.n] = true
    end
    it.fin = F(fin)
    if reserved then deltas[i] = fin - N(it.cost) else deltas[i] = fin end
  end
  settle(rec, deltas)
  local after = {}
  for i, it in ipairs(rec.it) do
    after[i] = {F(getc(where[i][1])), F(getc(where[i][2]))}
  end
  rec.after = after
  rec.sat = F(now)
  rec.st = 'reconciled'
  redis.call('ZREM', PENDING, rid)
  putr(rid, rec)
  return reply_settled(rec)
end

if op == 'release' then
  local rid = ARGV[4]
  sweep()
  local rec = getr(rid)
  if rec == nil or rec.st ~= 'reserved' then return {'none', F(now)} end
  local deltas = {}
  for i, it in ipairs(rec.it) do deltas[i] = -N(it.cost) end
  settle(rec, deltas)
  rec.st = 'released'
  redis.call('ZREM', PENDING, rid)
  putr(rid, rec)
  return {'ok', F(now)}
end

if op == 'commit' then
  -- the second phase of a cross-shard reserve: hold the prepared reservation for ARGV[5]
  -- seconds (the store's reservation ttl) instead of the short prepare ttl
  local rid = ARGV[4]
  sweep()
  local rec = getr(rid)
  if rec == nil or rec.st ~= 'reserved' then return {'gone', F(now)} end
  if rec.cm ~= '1' then
    rec.cm = '1'
    rec.exp = F(now + tonumber(ARGV[5]))
    redis.call('ZADD', PENDING, rec.exp, rid)
    putr(rid, rec)
  end
  return {'ok', F(now)}
end

if op == 'abort' then
  -- roll back a cross-shard reserve that another shard denied: give back and forget
  local rid = ARGV[4]
  sweep()
  local rec = getr(rid)
  if rec == nil or rec.st ~= 'reserved' or rec.tp ~= '1' then return {'none', F(now)} end
  local deltas = {}
  for i, it in ipairs(rec.it) do deltas[i] = -N(it.cost) end
  settle(rec, deltas)
  redis.call('DEL', P .. 'r:' .. rid)
  redis.call('ZREM', PENDING, rid)
  return {'ok', F(now)}
end

if op == 'seed' then
  -- ARGV[4] = used, ARGV[5] = 1, then one charge (cost unused)
  local used = tonumber(ARGV[4])
  local ch = charges(5)[1]
  if misplaced({ch}) then return {'retry', F(now)} end
  if ch.k == 'gcra' then
    local v = now + used * ch.iv
    putc(ch.c, v, v)
  else
    if ch.p ~= '' then putc(ch.p, 0, ch.lu - ch.w) end
    putc(ch.c, used, ch.lu)
  end
  return {'ok', F(now)}
end

return redis.error_reply('aigw: unknown op ' .. tostring(op))
"""
