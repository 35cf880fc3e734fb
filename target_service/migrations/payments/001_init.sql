-- payments database: the mock provider's ledger. The 2PC coordinator writes here directly.

CREATE TABLE payments (
    payment_id       text PRIMARY KEY,
    order_id         uuid NOT NULL,
    amount_cents     integer NOT NULL CHECK (amount_cents >= 0),
    currency         text NOT NULL DEFAULT 'USD',
    status           text NOT NULL
                     CHECK (status IN ('AUTHORIZED', 'CAPTURED', 'VOIDED', 'REFUNDED', 'DECLINED')),
    payment_token    text,
    idempotency_key  text NOT NULL UNIQUE,
    source           text NOT NULL CHECK (source IN ('api', '2pc', 'tombstone')),
    decline_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    captured_at      timestamptz,
    voided_at        timestamptz,
    refunded_at      timestamptz
);
CREATE INDEX payments_order_idx ON payments (order_id);
CREATE INDEX payments_status_idx ON payments (status);

CREATE TABLE provider_idempotency (
    idempotency_key  text NOT NULL,
    operation        text NOT NULL,
    request_sha256   text NOT NULL,
    payment_id       text,
    response_status  integer NOT NULL,
    response_body    jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation, idempotency_key)
);

CREATE TABLE twopc_applied (
    gid         text PRIMARY KEY,
    order_id    uuid NOT NULL,
    phase       text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
