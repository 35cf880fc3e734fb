-- The SQL statements the service and the provider issue for one saga purchase (pgbench script;
-- payments tables live in schema pay of the scratch database). See service_bench.py.
\set row random(0, 25)
\set num random(1, 400)
SELECT quote_literal(gen_random_uuid()) AS oid, quote_literal(gen_random_uuid()) AS cust, quote_literal(gen_random_uuid()) AS k1, quote_literal(chr(65 + :row) || '-' || lpad(:num::text, 2, '0')) AS seat \gset
INSERT INTO customers (customer_id, token_sha256) VALUES (:cust, :cust);
INSERT INTO idempotency_keys (customer_id, idempotency_key, request_method, request_path, request_fingerprint, lock_token, locked_at, expires_at) VALUES (:cust, 'a' || :k1, 'POST', '/api/orders', 'fp', gen_random_uuid(), now(), now() + interval '1 day') ON CONFLICT (customer_id, idempotency_key) DO UPDATE SET locked_at = now() RETURNING (xmax <> 0), order_id;
SELECT seat_id, price_cents FROM seats WHERE event_id = 'evt_bench' AND seat_id = ANY(ARRAY[:seat]);
BEGIN;
WITH o AS (INSERT INTO orders (order_id, customer_id, event_id, strategy, amount_cents, idempotency_key) VALUES (:oid, :cust, 'evt_bench', 'saga', 5000, 'a' || :k1) RETURNING order_id) INSERT INTO order_seats (order_id, event_id, seat_id, price_cents) SELECT o.order_id, 'evt_bench', t.s, t.p FROM o, unnest(ARRAY[:seat], ARRAY[5000]) AS t(s, p);
SELECT o.*, (SELECT array_agg(seat_id) FROM order_seats os WHERE os.order_id = o.order_id) FROM orders o WHERE order_id = :oid;
UPDATE idempotency_keys SET response_status = 201, response_body = '{}'::jsonb, recovery_point = 'finished', finished_at = now(), lock_token = NULL, locked_at = NULL WHERE customer_id = :cust AND idempotency_key = 'a' || :k1;
COMMIT;
INSERT INTO idempotency_keys (customer_id, idempotency_key, request_method, request_path, request_fingerprint, lock_token, locked_at, expires_at) VALUES (:cust, 'b' || :k1, 'POST', '/c', 'fp', gen_random_uuid(), now(), now() + interval '1 day') ON CONFLICT (customer_id, idempotency_key) DO UPDATE SET locked_at = now() RETURNING (xmax <> 0), order_id;
SELECT o.*, (SELECT array_agg(seat_id) FROM order_seats os WHERE os.order_id = o.order_id) FROM orders o WHERE order_id = :oid;
BEGIN;
INSERT INTO sagas (order_id, strategy, phase, state, step, auth_key) VALUES (:oid, 'saga', 'CONFIRM', 'RUNNING', 'SEATS_RESERVED', 'auth-' || :oid) ON CONFLICT (order_id) DO UPDATE SET version = sagas.version + 1 RETURNING *;
WITH locked AS (SELECT seat_id, state FROM seats WHERE event_id = 'evt_bench' AND seat_id = ANY(ARRAY[:seat]) ORDER BY seat_id FOR UPDATE) UPDATE seats s SET state = 'HELD', holder_order_id = :oid, holder_strategy = 'saga', hold_expires_at = now() + interval '2 minutes', updated_at = now() FROM locked l WHERE s.event_id = 'evt_bench' AND s.seat_id = l.seat_id AND l.state = 'AVAILABLE' RETURNING s.seat_id;
COMMIT;
INSERT INTO pay.payments (payment_id, order_id, amount_cents, currency, status, payment_token, idempotency_key, source) VALUES ('pay_' || :k1, :oid, 5000, 'USD', 'AUTHORIZED', 'tok_ok', 'auth-' || :oid, 'api') ON CONFLICT (idempotency_key) DO NOTHING RETURNING *;
BEGIN;
UPDATE sagas SET state = 'DONE', step = 'AUTHORIZED', payment_id = 'pay_' || :k1, version = version + 1, updated_at = now() WHERE order_id = :oid RETURNING *;
UPDATE orders SET status = 'AUTHORIZED', payment_id = 'pay_' || :k1, hold_expires_at = now() + interval '2 minutes', authorized_at = now(), updated_at = now() WHERE order_id = :oid AND status = 'PENDING';
COMMIT;
SELECT o.*, (SELECT array_agg(seat_id) FROM order_seats os WHERE os.order_id = o.order_id) FROM orders o WHERE order_id = :oid;
UPDATE idempotency_keys SET response_status = 202, response_body = '{}'::jsonb, recovery_point = 'finished', finished_at = now(), lock_token = NULL, locked_at = NULL WHERE customer_id = :cust AND idempotency_key = 'b' || :k1;
INSERT INTO idempotency_keys (customer_id, idempotency_key, request_method, request_path, request_fingerprint, lock_token, locked_at, expires_at) VALUES (:cust, 'c' || :k1, 'POST', '/f', 'fp', gen_random_uuid(), now(), now() + interval '1 day') ON CONFLICT (customer_id, idempotency_key) DO UPDATE SET locked_at = now() RETURNING (xmax <> 0), order_id;
SELECT o.*, (SELECT array_agg(seat_id) FROM order_seats os WHERE os.order_id = o.order_id) FROM orders o WHERE order_id = :oid;
BEGIN;
UPDATE orders SET finalize_started_at = coalesce(finalize_started_at, now()), updated_at = now() WHERE order_id = :oid AND status = 'AUTHORIZED';
INSERT INTO sagas (order_id, strategy, phase, state, step, auth_key) VALUES (:oid, 'saga', 'FINALIZE', 'RUNNING', 'FINALIZE_STARTED', 'auth-' || :oid) ON CONFLICT (order_id) DO UPDATE SET phase = EXCLUDED.phase, state = 'RUNNING', version = sagas.version + 1 RETURNING *;
COMMIT;
WITH upd AS (UPDATE pay.payments SET status = 'CAPTURED', captured_at = now(), updated_at = now() WHERE payment_id = 'pay_' || :k1 AND status = 'AUTHORIZED' RETURNING *), rec AS (INSERT INTO pay.provider_idempotency (operation, idempotency_key, request_sha256, payment_id, response_status, response_body) SELECT 'capture', 'capture-' || :oid, '', payment_id, 200, '{}'::jsonb FROM upd ON CONFLICT DO NOTHING) SELECT * FROM upd;
BEGIN;
UPDATE sagas SET state = 'DONE', step = 'SOLD', version = version + 1, updated_at = now() WHERE order_id = :oid RETURNING *;
UPDATE seats SET state = 'SOLD', hold_expires_at = NULL, updated_at = now() WHERE event_id = 'evt_bench' AND seat_id = ANY(ARRAY[:seat]) AND holder_order_id = :oid AND state = 'HELD' RETURNING seat_id;
UPDATE orders SET status = 'SOLD', sold_at = now(), updated_at = now() WHERE order_id = :oid AND status = 'AUTHORIZED';
INSERT INTO tickets (ticket_id, order_id, event_id, seat_id, price_cents) SELECT gen_random_uuid(), order_id, event_id, seat_id, price_cents FROM order_seats WHERE order_id = :oid;
INSERT INTO saga_log (order_id, phase, step, outcome, instance) VALUES (:oid, 'FINALIZE', 'SOLD', 'ok', '0');
COMMIT;
SELECT o.*, (SELECT array_agg(seat_id) FROM order_seats os WHERE os.order_id = o.order_id) FROM orders o WHERE order_id = :oid;
SELECT ticket_id, seat_id, price_cents, issued_at FROM tickets WHERE order_id = :oid;
UPDATE idempotency_keys SET response_status = 200, response_body = '{}'::jsonb, recovery_point = 'finished', finished_at = now(), lock_token = NULL, locked_at = NULL WHERE customer_id = :cust AND idempotency_key = 'c' || :k1;
