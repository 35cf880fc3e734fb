-- A failpoint may fire on a share of its hits instead of on every one (BUGGIFY): each hit
-- fires with probability `chance` (NULL: every hit), still at most `remaining` times.
ALTER TABLE failpoints
    ADD COLUMN chance double precision CHECK (chance > 0 AND chance <= 1);
