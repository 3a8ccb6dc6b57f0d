-- Argo CD health check for mcpsync.dev McpRegistry and ClusterMcpRegistry (docs/gitops.md);
-- the same script serves both kinds.
-- A registry has one condition, Ready: its credentials resolved and a cheap
-- authenticated call succeeded. Its message never holds a secret value.

local function find(conditions, type)
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

-- "Reason: message", or the reason alone when there is no message.
local function describe(c)
  local reason = c.reason or c.type
  if c.message == nil or c.message == "" then
    return reason
  end
  return reason .. ": " .. c.message
end

local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  return {status = "Progressing", message = "Waiting for mcpsync to check the registry"}
end
if status.observedGeneration ~= obj.metadata.generation then
  return {status = "Progressing", message = "Waiting for mcpsync to observe generation " .. tostring(obj.metadata.generation)}
end

local ready = find(status.conditions, "Ready")
if ready == nil then
  return {status = "Progressing", message = "Waiting for the Ready condition"}
end
if ready.status == "True" then
  return {status = "Healthy", message = describe(ready)}
end
-- Unreachable (timeouts, 5xx, connection errors) is retried with back-off.
if ready.reason == "Unreachable" then
  return {status = "Progressing", message = describe(ready)}
end
-- Unauthorized, InvalidSpec, SecretNotFound: retrying does not help until the
-- registry or its Secret changes.
return {status = "Degraded", message = describe(ready)}
