//! Lock-free bounded single-producer / single-consumer ring and consumer wait strategies.
