//! Test PKI (todo).
