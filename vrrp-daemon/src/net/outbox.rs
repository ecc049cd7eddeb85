//! Adverts of many instances due in the same wake, sent with one `sendmmsg` per socket.
//!
//! At 200 instances and 10 ms adverts a master sends 20,000 adverts a second, most of them
//! in wakes shared by dozens of instances (see [`crate::coalesce`]). Each `sendto` pays the
//! syscall entry, the socket lookup and the return on its own; `sendmmsg` pays them once
//! per batch. The packets, their order per instance and their destinations are unchanged.
use std::{io, net::IpAddr, os::fd::AsRawFd as _, sync::Arc};

use socket2::{SockAddr, Socket};

use super::AdvertSocket;

/// One queued advert.
struct Entry {
    socket: Arc<Socket>,
    to: SockAddr,
    message: Vec<u8>,
    /// The caller's tag (which instance), handed back with the outcome.
    tag: usize,
}

/// Adverts queued for one flush. Reused from wake to wake, so it allocates nothing once
/// it has grown to the batch size.
#[derive(Default)]
pub struct Outbox {
    entries: Vec<Entry>,
}

/// How many messages one `sendmmsg` call takes at most (the kernel's UIO_MAXIOV).
const MAX_BATCH: usize = 1024;

impl Outbox {
    /// Queue `message` for `dst` through `socket`; `tag` comes back with its outcome.
    pub fn push(&mut self, socket: &AdvertSocket, message: Vec<u8>, dst: IpAddr, tag: usize) {
        self.entries.push(Entry {
            socket: Arc::clone(&socket.socket),
            to: socket.destination(dst),
            message,
            tag,
        });
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Send everything queued, in order: runs of entries on the same socket go out in one
    /// `sendmmsg`; a message the kernel refuses is reported and the rest still go. Calls
    /// `outcome(tag, result)` once per message, in queue order.
    pub fn flush(&mut self, mut outcome: impl FnMut(usize, io::Result<()>)) {
        let entries = std::mem::take(&mut self.entries);
        let mut start = 0;
        while start < entries.len() {
            let socket = &entries[start].socket;
            let end = entries[start..]
                .iter()
                .take(MAX_BATCH)
                .position(|e| !Arc::ptr_eq(&e.socket, socket))
                .map_or((start + MAX_BATCH).min(entries.len()), |n| start + n);
            let run = &entries[start..end];
            let mut sent = 0;
            while sent < run.len() {
                match send_many(socket, &run[sent..]) {
                    Ok(n) => {
                        for e in &run[sent..sent + n] {
                            outcome(e.tag, Ok(()));
                        }
                        sent += n;
                    }
                    Err(err) => {
                        // The first message of the rest failed; go on after it.
                        outcome(run[sent].tag, Err(err));
                        sent += 1;
                    }
                }
            }
            start = end;
        }
        // Keep the allocation for the next wake.
        let mut entries = entries;
        entries.clear();
        self.entries = entries;
    }
}

/// One `sendmmsg` of `entries` (all on `socket`); how many the kernel took (at least one).
fn send_many(socket: &Socket, entries: &[Entry]) -> io::Result<usize> {
    let mut iovecs: Vec<libc::iovec> = entries
        .iter()
        .map(|e| libc::iovec {
            iov_base: e.message.as_ptr() as *mut libc::c_void,
            iov_len: e.message.len(),
        })
        .collect();
    let mut headers: Vec<libc::mmsghdr> = entries
        .iter()
        .zip(iovecs.iter_mut())
        .map(|(e, iov)| {
            // SAFETY: an all-zero msghdr is valid (no name, no control data).
            let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
            hdr.msg_name = e.to.as_ptr() as *mut libc::c_void;
            hdr.msg_namelen = e.to.len();
            hdr.msg_iov = iov;
            hdr.msg_iovlen = 1;
            libc::mmsghdr {
                msg_hdr: hdr,
                msg_len: 0,
            }
        })
        .collect();
    loop {
        // SAFETY: every header points at a live address, a live iovec and a live message
        // for the duration of the call.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                headers.len() as libc::c_uint,
                0,
            )
        };
        if n >= 0 {
            // 0 only for an empty batch, which is never passed; count it as one refused.
            return if n == 0 {
                Err(io::Error::other("sendmmsg sent nothing"))
            } else {
                Ok(n as usize)
            };
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
