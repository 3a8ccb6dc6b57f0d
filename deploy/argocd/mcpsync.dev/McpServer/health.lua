-- Argo CD health check for mcpsync.dev McpServer (docs/gitops.md).
-- Reads the kstatus conditions mcpsync writes: Ready, Synced, Reconciling, Stalled.
-- Messages come from those conditions, which never hold a secret value.

local function find(conditions, type)
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

-- The condition's message, or nil when it has none.
local function text(c)
  if c == nil or c.message == nil or c.message == "" then
    return nil
  end
  return c.message
end

-- "Reason: detail" (detail defaults to the condition's own message).
local function describe(c, detail)
  detail = detail or text(c)
  local reason = c.reason or c.type
  if detail == nil then
    return reason
  end
  return reason .. ": " .. detail
end

if obj.spec ~= nil and obj.spec.suspend == true then
  return {status = "Suspended", message = "spec.suspend is true: mcpsync makes no calls to the registry"}
end

local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  return {status = "Progressing", message = "Waiting for mcpsync to report a status"}
end
if status.observedGeneration ~= obj.metadata.generation then
  return {status = "Progressing", message = "Waiting for mcpsync to observe generation " .. tostring(obj.metadata.generation)}
end

local ready = find(status.conditions, "Ready")
local synced = find(status.conditions, "Synced")
local reconciling = find(status.conditions, "Reconciling")
local stalled = find(status.conditions, "Stalled")

-- An error retrying cannot fix: rejected or unsupported spec, conflict, refused
-- credentials, missing Secret, registry not ready.
if stalled ~= nil and stalled.status == "True" then
  return {status = "Degraded", message = describe(stalled)}
end
-- Creating, updating, or retrying a transient error (rate limit, registry unreachable).
if reconciling ~= nil and reconciling.status == "True" then
  return {status = "Progressing", message = describe(reconciling, text(reconciling) or text(ready))}
end
if ready == nil then
  return {status = "Progressing", message = "Waiting for the Ready condition"}
end
if ready.status == "True" then
  return {status = "Healthy", message = describe(ready, text(ready) or text(synced))}
end
-- Nothing in progress and not ready: the registry reports the server unavailable, or
-- (ObserveOnly) the record differs from the spec or is missing.
return {status = "Degraded", message = describe(ready)}
