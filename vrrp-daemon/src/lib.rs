//! vrrp-daemon: a keepalived-compatible VRRP daemon whose advert observer runs in XDP.
//!
//! ```text
//!   keepalived.conf ──► config ──► daemon (event loop, tokio) ──► vrrp::Instance (sans-IO)
//!                                    ▲          │ actions
//!        XDP: PEERS map + EVENTS ────┘          ├─► net: adverts (raw socket), VIPs (rtnetlink), GARP
//!        (dataplane)                            └─► track / notify: scripts
//! ```
pub mod coalesce;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dataplane;
pub mod guardian;
pub mod handoff;
pub mod logging;
pub mod namespace;
pub mod net;
pub mod notify;
pub mod packet;
pub mod privilege;
pub mod scheduling;
pub mod sd_notify;
pub mod statics;
pub mod timer;
pub mod track;
pub mod units;
pub mod util;
pub mod vrrp;
