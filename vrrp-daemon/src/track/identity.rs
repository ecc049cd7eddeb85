//! Who scripts run as, and whether it is safe to run them (keepalived's `script_user`,
//! `vrrp_script { user }` and `enable_script_security`).
//!
//! keepalived runs scripts as `script_user`, else as the `keepalived_script` user when it
//! exists, else as root. With `enable_script_security`, a script that would run as root is
//! refused when a non-root user could change it: the file or any directory above it is
//! owned by someone else or writable by group or others (a sticky directory such as /tmp
//! only protects files owned by root).
use std::{
    ffi::CString,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
};

use anyhow::{Result, anyhow, bail};

/// A resolved user to run a script as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunAs {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

impl RunAs {
    /// Root: the daemon's own identity.
    pub const ROOT: RunAs = RunAs { uid: 0, gid: 0 };
}

/// Look a user up in the password database.
pub fn lookup_user(name: &str) -> Result<Option<RunAs>> {
    let cname = CString::new(name).map_err(|_| anyhow!("user name {name:?} contains NUL"))?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: passwd is plain data; getpwnam_r writes into it and into buf, whose length is
    // passed; result points at pwd or is null.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        bail!(
            "looking up user {name}: {}",
            std::io::Error::from_raw_os_error(rc)
        );
    }
    Ok((!result.is_null()).then_some(RunAs {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    }))
}

/// The identity a script runs as: its own `user`, else `script_user`, else
/// `keepalived_script` when that user exists, else root.
pub fn resolve(own: Option<&str>, script_user: Option<&str>) -> Result<RunAs> {
    if let Some(name) = own.or(script_user) {
        return lookup_user(name)?.ok_or_else(|| {
            anyhow!("user {name} does not exist; create it or change `user`/`script_user`")
        });
    }
    Ok(lookup_user("keepalived_script")?.unwrap_or(RunAs::ROOT))
}

/// The executable a command line runs: absolute, or found on PATH.
pub fn executable(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Why running `program` as root would be unsafe, if it would: the first path component a
/// non-root user could change.
pub fn insecure_component(program: &Path) -> Option<String> {
    let Ok(real) = program.canonicalize() else {
        return Some(format!("{} cannot be resolved", program.display()));
    };
    let mut file_owned_by_root = true;
    for (depth, component) in real.ancestors().enumerate() {
        let Ok(meta) = std::fs::metadata(component) else {
            return Some(format!("{} cannot be read", component.display()));
        };
        let mode = meta.mode();
        let sticky_dir = depth > 0 && mode & 0o1000 != 0;
        if depth == 0 {
            file_owned_by_root = meta.uid() == 0;
        }
        if meta.uid() != 0 {
            return Some(format!(
                "{} is owned by uid {}",
                component.display(),
                meta.uid()
            ));
        }
        let writable = mode & 0o002 != 0 || (mode & 0o020 != 0 && meta.gid() != 0);
        if writable && !(sticky_dir && file_owned_by_root) {
            return Some(format!(
                "{} is writable by non-root users (mode {:o})",
                component.display(),
                mode & 0o7777
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn root_resolves_and_unknown_users_are_an_error() {
        assert_eq!(lookup_user("root").unwrap(), Some(RunAs::ROOT));
        assert_eq!(lookup_user("no-such-user-vrrp").unwrap(), None);
        assert!(resolve(Some("no-such-user-vrrp"), None).is_err());
        assert_eq!(resolve(None, Some("root")).unwrap(), RunAs::ROOT);
    }

    #[test]
    fn executables_are_found_on_path() {
        assert!(executable("sh").is_some_and(|p| p.ends_with("sh")));
        assert_eq!(executable("/x/y"), Some(PathBuf::from("/x/y")));
    }

    #[test]
    fn system_binaries_are_secure_and_world_writable_ones_are_not() {
        assert_eq!(insecure_component(Path::new("/bin/sh")), None);
        let dir = std::env::temp_dir().join(format!("vrrp-sec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = dir.join("check.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Only flag what this test controls: the script and its own directory (the temp
        // root above may be anything).
        let flagged = insecure_component(&script);
        assert!(
            flagged.is_none() || !flagged.as_deref().unwrap_or("").contains("check.sh"),
            "{flagged:?}"
        );
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o757)).unwrap();
        let flagged = insecure_component(&script).expect("world-writable script");
        assert!(
            flagged.contains("check.sh") && flagged.contains("writable"),
            "{flagged}"
        );
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let flagged = insecure_component(&script).expect("world-writable directory");
        assert!(
            flagged.contains(dir.file_name().unwrap().to_str().unwrap()),
            "{flagged}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
