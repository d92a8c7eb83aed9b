//! The Lua scripts: one health transition (mirroring `rotate_core::health::transition`
//! case for case, tested against the same table), one idempotent usage batch, and one
//! client admission.

/// Applies one event to one key's state, atomically, and announces the result.
///
/// KEYS: state hash, known-keys set. ARGV: key id, event code, event argument in ms
/// (`-1` when none), now (ms), cooldown (ms), quarantine (ms), failures to quarantine,
/// most doublings, channel, origin, failed auth probes that make a key dead (0: never).
/// Returns `{state, until, failures, strikes, transient, malformed, auth}`.
pub(crate) const TRANSITION: &str = r#"
local h = redis.call('HMGET', KEYS[1], 'state', 'until', 'failures', 'strikes', 'transient', 'auth')
local malformed = 0
local state = h[1]
if state == false then state = 'healthy' end
if state ~= 'healthy' and state ~= 'cooling_down' and state ~= 'quarantined' and state ~= 'disabled' then
  state = 'healthy'
  malformed = 1
end
local function num(v)
  if v == false then return 0 end
  local n = tonumber(v)
  if n == nil or n < 0 or n ~= n then malformed = 1; return 0 end
  return math.floor(n)
end
local until_ms = num(h[2])
local failures = num(h[3])
local strikes = num(h[4])
local transient = num(h[5])
if transient > 1 then transient = 1; malformed = 1 end
local auth = num(h[6])

local event = ARGV[2]
local arg = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local cooldown = tonumber(ARGV[5])
local quarantine = tonumber(ARGV[6])
local max_failures = tonumber(ARGV[7])
local max_doublings = tonumber(ARGV[8])
local dead_after = tonumber(ARGV[11]) or 0

local function resting()
  return (state == 'cooling_down' or state == 'quarantined') and until_ms > now
end
local function quarantine_now(cause)
  local d = strikes
  if d > max_doublings then d = max_doublings end
  local period_end = now + quarantine * (2 ^ d)
  if resting() and until_ms > period_end then period_end = until_ms end
  state = 'quarantined'
  until_ms = period_end
  strikes = strikes + 1
  transient = cause
end
local function rest_until(t)
  if state == 'quarantined' or state == 'cooling_down' then
    if until_ms < t then until_ms = t end
  else
    state = 'cooling_down'
    until_ms = t
  end
end
local function reset()
  state = 'healthy'; until_ms = 0; failures = 0; strikes = 0; transient = 0; auth = 0
end

if state == 'disabled' then
  if event == 'enable' then reset() end
else
  local probing = state == 'quarantined' and until_ms <= now
  local quarantine_running = state == 'quarantined' and until_ms > now
  if event == 'success' then
    if resting() then failures = 0 else reset() end
  elseif event == 'enable' then
    reset()
  elseif event == 'disable' then
    reset(); state = 'disabled'
  elseif event == 'rate_limited' then
    local wait = cooldown
    if arg >= 0 then wait = arg end
    if probing then state = 'healthy'; until_ms = 0; transient = 0 end
    rest_until(now + wait)
  elseif event == 'headroom_exhausted' then
    if arg > 0 then rest_until(now + arg) end
  elseif event == 'auth_failed' and probing then
    auth = auth + 1
    if dead_after > 0 and auth >= dead_after then
      state = 'disabled'; until_ms = 0; transient = 0
    else
      quarantine_now(0)
    end
  elseif event == 'quota_exhausted' or event == 'auth_failed' then
    if quarantine_running then transient = 0 else quarantine_now(0) end
  elseif event == 'transient_failure' then
    failures = failures + 1
    if not quarantine_running and (probing or failures >= max_failures) then quarantine_now(1) end
  elseif event == 'excused_failure' then
    failures = failures + 1
  end
end

local until_text = string.format('%.0f', until_ms)
redis.call('HSET', KEYS[1], 'state', state, 'until', until_text, 'failures', string.format('%.0f', failures), 'strikes', string.format('%.0f', strikes), 'transient', transient, 'auth', string.format('%.0f', auth))
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[9], cjson.encode({k = ARGV[1], s = state, u = until_text, f = failures, x = strikes, t = transient, a = auth, o = ARGV[10]}))
return {state, until_text, failures, strikes, transient, malformed, auth}
"#;

/// Adds a batch of usage increments exactly once.
///
/// KEYS[1]: the batch marker; KEYS[2..]: the hashes. ARGV[1]: how long the marker lives
/// (ms); then triples (hash index into KEYS, field, increment). Returns 1 when applied,
/// 0 when this batch had been applied before (a retry after a lost reply).
pub(crate) const USAGE_BATCH: &str = r#"
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local i = 2
while i <= #ARGV do
  redis.call('HINCRBY', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
  i = i + 3
end
return 1
"#;

/// Admits one request of a client: refused when a counter has reached its cap, else the
/// request counter is incremented.
///
/// KEYS: the client's counters in `LimitKind::ALL` order (month's spend, day's spend,
/// minute's tokens, minute's requests). ARGV: their caps in that order (`-1`: none), and
/// when the requests counter expires (Unix ms). Returns 0 when admitted, else the
/// 1-based index of the counter at its cap.
pub(crate) const ADMIT_CLIENT: &str = r#"
for i = 1, 4 do
  local cap = tonumber(ARGV[i])
  if cap >= 0 then
    local used = tonumber(redis.call('GET', KEYS[i])) or 0
    if used >= cap then return i end
  end
end
if tonumber(ARGV[4]) >= 0 then
  redis.call('INCR', KEYS[4])
  redis.call('PEXPIREAT', KEYS[4], ARGV[5])
end
return 0
"#;
