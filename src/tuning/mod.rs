//! Making and verifying a low-latency host: latency budgets per stage ([`budgets`], checked by
//! `cargo bench --bench budgets`) and host checks ([`host`], `calculus-trader check-host` and the
//! start-up warnings), and the CPU check of a tuned build ([`cpu`]). The settings themselves are explained in `tuning/README.md`.

pub mod budgets;
pub mod cpu;
pub mod host;

pub use budgets::{BudgetFile, Profile};
pub use host::{check_host, Finding, Host, Status};
