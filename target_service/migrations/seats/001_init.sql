-- seats database: inventory, orders, tickets, idempotency records, saga log, 2PC decision log.
-- Deliberately NO unique constraint on sold (event_id, seat_id) across orders or tickets: the
-- coordination strategies must keep seats exclusive, and the checkers must be able to see it
-- when a (seeded) bug does not.

CREATE TABLE events (
    event_id    text PRIMARY KEY,
    name        text NOT NULL,
    starts_at   timestamptz NOT NULL,
    capacity    integer NOT NULL CHECK (capacity >= 0),
    currency    text NOT NULL DEFAULT 'USD'
);

CREATE TABLE seats (
    event_id         text NOT NULL REFERENCES events(event_id),
    seat_id          text NOT NULL,
    section          text NOT NULL,
    row_label        text NOT NULL,
    seat_number      integer NOT NULL,
    price_cents      integer NOT NULL CHECK (price_cents > 0),
    state            text NOT NULL DEFAULT 'AVAILABLE'
                     CHECK (state IN ('AVAILABLE', 'HELD', 'SOLD')),
    holder_order_id  uuid,
    holder_strategy  text CHECK (holder_strategy IN ('lock', 'saga', '2pc')),
    hold_expires_at  timestamptz,
    fence_token      bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, seat_id),
    CHECK ((state = 'AVAILABLE') = (holder_order_id IS NULL)),
    CHECK ((state = 'HELD') = (hold_expires_at IS NOT NULL))
);
CREATE INDEX seats_holder_idx ON seats (holder_order_id) WHERE holder_order_id IS NOT NULL;

CREATE TABLE customers (
    customer_id  uuid PRIMARY KEY,
    token_sha256 text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    order_id            uuid PRIMARY KEY,
    customer_id         uuid NOT NULL REFERENCES customers(customer_id),
    event_id            text NOT NULL REFERENCES events(event_id),
    strategy            text NOT NULL CHECK (strategy IN ('lock', 'saga', '2pc')),
    status              text NOT NULL DEFAULT 'PENDING'
                        CHECK (status IN ('PENDING', 'AUTHORIZED', 'SOLD', 'FAILED', 'EXPIRED',
                                          'CANCELLED')),
    amount_cents        integer NOT NULL CHECK (amount_cents > 0),
    currency            text NOT NULL DEFAULT 'USD',
    idempotency_key     text,
    payment_id          text,
    hold_expires_at     timestamptz,
    finalize_started_at timestamptz,
    failure_code        text,
    failure_detail      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    authorized_at       timestamptz,
    sold_at             timestamptz,
    closed_at           timestamptz
);
CREATE INDEX orders_customer_idx ON orders (customer_id, created_at);
CREATE INDEX orders_key_idx ON orders (customer_id, idempotency_key);
CREATE INDEX orders_expiry_idx ON orders (hold_expires_at) WHERE status = 'AUTHORIZED';

CREATE TABLE order_seats (
    order_id     uuid NOT NULL REFERENCES orders(order_id),
    event_id     text NOT NULL,
    seat_id      text NOT NULL,
    price_cents  integer NOT NULL,
    PRIMARY KEY (order_id, seat_id),
    FOREIGN KEY (event_id, seat_id) REFERENCES seats(event_id, seat_id)
);
CREATE INDEX order_seats_seat_idx ON order_seats (event_id, seat_id);

CREATE TABLE tickets (
    ticket_id    uuid PRIMARY KEY,
    order_id     uuid NOT NULL REFERENCES orders(order_id),
    event_id     text NOT NULL,
    seat_id      text NOT NULL,
    price_cents  integer NOT NULL,
    issued_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, seat_id)
);
CREATE INDEX tickets_seat_idx ON tickets (event_id, seat_id);

CREATE TABLE idempotency_keys (
    customer_id          uuid NOT NULL REFERENCES customers(customer_id),
    idempotency_key      text NOT NULL,
    request_method       text NOT NULL,
    request_path         text NOT NULL,
    request_fingerprint  text NOT NULL,
    recovery_point       text NOT NULL DEFAULT 'started',
    lock_token           uuid,
    locked_at            timestamptz,
    order_id             uuid,
    response_status      integer,
    response_body        jsonb,
    created_at           timestamptz NOT NULL DEFAULT now(),
    finished_at          timestamptz,
    expires_at           timestamptz NOT NULL,
    PRIMARY KEY (customer_id, idempotency_key)
);
CREATE INDEX idempotency_expiry_idx ON idempotency_keys (expires_at);

CREATE TABLE sagas (
    order_id        uuid PRIMARY KEY REFERENCES orders(order_id),
    strategy        text NOT NULL,
    phase           text NOT NULL CHECK (phase IN ('CONFIRM', 'FINALIZE', 'EXPIRE', 'CANCEL')),
    state           text NOT NULL CHECK (state IN ('RUNNING', 'COMPENSATING', 'DONE')),
    step            text NOT NULL,
    version         integer NOT NULL DEFAULT 1,
    auth_key        text NOT NULL,
    payment_id      text,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sagas_open_idx ON sagas (updated_at) WHERE state <> 'DONE';

CREATE TABLE saga_log (
    log_id     bigserial PRIMARY KEY,
    order_id   uuid NOT NULL,
    phase      text NOT NULL,
    step       text NOT NULL,
    outcome    text NOT NULL,
    detail     jsonb,
    instance   text,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saga_log_order_idx ON saga_log (order_id, log_id);

CREATE TABLE twopc_decisions (
    gid           text PRIMARY KEY,
    order_id      uuid NOT NULL,
    phase         text NOT NULL,
    decision      text NOT NULL CHECK (decision IN ('COMMIT', 'ABORT')),
    decided_by    text NOT NULL,
    decided_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX twopc_decisions_order_idx ON twopc_decisions (order_id);

CREATE TABLE twopc_applied (
    gid         text PRIMARY KEY,
    order_id    uuid NOT NULL,
    phase       text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE failpoints (
    name        text PRIMARY KEY,
    remaining   integer,
    armed_at    timestamptz NOT NULL DEFAULT now()
);
