//! Copying bytes out of this process's own memory without trusting the
//! address: the kernel checks it, so a wrong address is an error rather than
//! a crash. The debug and profiler outputs take addresses from a
//! [`ModuleImage`](super::ModuleImage), whose fields anyone can fill in.

use std::io;

use crate::{Error, Result};

/// The `len` bytes at `addr` in this process.
pub(crate) fn read(addr: u64, len: usize) -> Result<Vec<u8>> {
    // `len` comes from a caller-filled image: allocate fallibly.
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).map_err(|_| Error::OutOfMemory {
        requested: len as u64,
        reason: format!("no heap buffer for a copy of the JIT memory at {addr:#x}"),
    })?;
    buf.resize(len, 0);
    match read_with_process_vm_readv(addr, &mut buf) {
        Ok(()) => Ok(buf),
        // Some sandboxes forbid the system call; /proc/self/mem does the
        // same checked copy through the file system.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => {
            read_with_proc_mem(addr, &mut buf)
                .map(|()| buf)
                .map_err(|source| Error::Memory {
                    op: "read JIT memory through /proc/self/mem",
                    source,
                })
        }
        Err(source) => Err(Error::Memory {
            op: "read JIT memory (process_vm_readv)",
            source,
        }),
    }
}

fn read_with_process_vm_readv(addr: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        let remote_addr = addr
            .checked_add(done as u64)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EFAULT))?;
        let local = libc::iovec {
            iov_base: buf[done..].as_mut_ptr().cast(),
            iov_len: buf.len() - done,
        };
        let remote = libc::iovec {
            iov_base: remote_addr as usize as *mut libc::c_void,
            iov_len: buf.len() - done,
        };
        // SAFETY: `local` describes the unfilled tail of `buf`, which we own
        // mutably for the call. `remote` is only read, by the kernel, which
        // checks it against this process's mappings and fails with EFAULT
        // instead of faulting; no Rust reference to it is formed.
        let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
        match n {
            n if n < 0 => return Err(io::Error::last_os_error()),
            0 => return Err(io::Error::from_raw_os_error(libc::EFAULT)),
            n => done += n as usize,
        }
    }
    Ok(())
}

fn read_with_proc_mem(addr: u64, buf: &mut [u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mem = std::fs::File::open("/proc/self/mem")?;
    mem.read_exact_at(buf, addr)
}

#[cfg(test)]
mod tests;
