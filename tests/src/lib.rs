//! Test support: starting ferrokv-server and redis-server, a small RESP client.
