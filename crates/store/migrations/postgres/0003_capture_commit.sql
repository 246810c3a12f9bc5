-- Idempotency keys are scoped to the session *and* the capture kind: the same key sent for
-- another kind is another request, not a replay.
ALTER TABLE captures DROP CONSTRAINT captures_session_id_idempotency_key_key;
ALTER TABLE captures ADD CONSTRAINT captures_session_kind_idempotency_key UNIQUE (session_id, kind, idempotency_key);
-- The reconciler looks for recent accepted captures whose job is missing.
CREATE INDEX captures_accepted_by_time ON captures (created_at) WHERE accepted;
