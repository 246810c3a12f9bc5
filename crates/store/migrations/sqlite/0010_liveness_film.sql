-- The head-turn film: the moment the arrow appears is part of the challenge, and the liveness
-- verdict computed when the film arrived is stored with its capture (the page's answer and the
-- score read this one record).
ALTER TABLE challenges ADD COLUMN prompt_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE captures ADD COLUMN liveness TEXT;   -- JSON LivenessFindings, head-turn films only
