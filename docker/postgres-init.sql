-- The two databases of the stack (the cluster's own user is `harness`).
CREATE DATABASE seats;
CREATE DATABASE payments;
