//! The V1 HTTP API conventions both daemons follow: `ApiError`/`V1` responses
//! (`error`), Go query-string parsing (`query`) and the reference router's behaviour
//! around a route table (`routing`).

pub mod error;
pub mod query;
pub mod routing;
