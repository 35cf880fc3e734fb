-- Coverage: how often each dangerous situation happened since the last reset
-- (target_service/coverage.py owns the names; reset_data truncates the table).
CREATE TABLE coverage (
    situation  text PRIMARY KEY,
    count      bigint NOT NULL DEFAULT 0,
    first_at   timestamptz NOT NULL DEFAULT now(),
    last_at    timestamptz NOT NULL DEFAULT now()
);

-- A failpoint's action, chosen when it is armed (NULL: the failpoint's own default),
-- how long a delay or pause lasts, and the one process that fires it (NULL: every process).
ALTER TABLE failpoints
    ADD COLUMN action   text CHECK (action IN ('crash', 'delay', 'pause')),
    ADD COLUMN seconds  double precision,
    ADD COLUMN instance text;
