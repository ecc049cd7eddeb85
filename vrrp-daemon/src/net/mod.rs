//! The daemon's edges to the kernel's network stack: interface facts and virtual addresses
//! (rtnetlink), the advert send socket, gratuitous ARP and its pacing, and `virtual_routes`.
pub mod addresses;
pub mod advert_socket;
pub mod garp;
pub mod monitor;
pub mod outbox;
pub mod pacer;
pub mod routes;

pub use addresses::{AddressOptions, Interface, Netlink};
pub use advert_socket::AdvertSocket;
pub use garp::{GarpSocket, NaSocket};
pub use outbox::Outbox;
