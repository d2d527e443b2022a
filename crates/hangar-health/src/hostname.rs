//! This host's name as Airflow records it in the `job` table: `[core] hostname_callable`,
//! by default `airflow.utils.net.getfqdn` (`gethostname()`, then the canonical name from
//! `getaddrinfo(…, AI_CANONNAME)` when there is one), or `socket.gethostname`.

use std::ffi::{CStr, CString};
use std::io;

use hangar_config::AirflowConfig;

use crate::HealthError;

/// The host-name lookups, behind a trait so that tests can give their own.
pub trait HostNames {
    /// `gethostname()`.
    fn hostname(&self) -> io::Result<String>;
    /// The canonical name `getaddrinfo` gives for `name`, if any.
    fn canonical(&self, name: &str) -> Option<String>;
}

/// The real lookups (glibc's `gethostname` and `getaddrinfo`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RealHostNames;

impl HostNames for RealHostNames {
    fn hostname(&self) -> io::Result<String> {
        let mut buf = [0u8; 256];
        #[allow(unsafe_code)]
        // SAFETY: the buffer is valid for its length; glibc NUL-terminates within it or fails.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
    }

    fn canonical(&self, name: &str) -> Option<String> {
        let node = CString::new(name).ok()?;
        #[allow(unsafe_code)]
        // SAFETY: the hints are zeroed then filled as getaddrinfo documents; the result list
        // is read before it is freed, once, with freeaddrinfo.
        unsafe {
            let mut hints: libc::addrinfo = std::mem::zeroed();
            hints.ai_socktype = libc::SOCK_DGRAM;
            hints.ai_flags = libc::AI_CANONNAME;
            let mut res: *mut libc::addrinfo = std::ptr::null_mut();
            if libc::getaddrinfo(node.as_ptr(), std::ptr::null(), &hints, &mut res) != 0 {
                return None;
            }
            let mut found = None;
            let mut cur = res;
            while !cur.is_null() {
                let canon = (*cur).ai_canonname;
                if !canon.is_null() {
                    let s = CStr::from_ptr(canon).to_string_lossy().into_owned();
                    if !s.is_empty() {
                        found = Some(s);
                        break;
                    }
                }
                cur = (*cur).ai_next;
            }
            libc::freeaddrinfo(res);
            found
        }
    }
}

/// The names of Airflow's default `hostname_callable`, in its two spellings.
const GETFQDN: [&str; 2] = ["airflow.utils.net.getfqdn", "airflow.utils.net:getfqdn"];
const GETHOSTNAME: [&str; 2] = ["socket.gethostname", "socket:gethostname"];

/// This host's name as the configured `hostname_callable` gives it.
///
/// # Errors
/// The option cannot be read, names a callable hangar cannot compute, or the host name
/// cannot be read.
pub fn local(cfg: &AirflowConfig, names: &dyn HostNames) -> Result<String, HealthError> {
    let callable = cfg
        .get("core", "hostname_callable")?
        .map(|r| r.value.trim().to_owned())
        .filter(|v| !v.is_empty());
    let name = names.hostname().map_err(HealthError::Hostname)?;
    match callable.as_deref() {
        None => Ok(names.canonical(&name).unwrap_or(name)),
        Some(c) if GETFQDN.contains(&c) => Ok(names.canonical(&name).unwrap_or(name)),
        Some(c) if GETHOSTNAME.contains(&c) => Ok(name),
        Some(other) => Err(HealthError::HostnameCallable(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hangar_config::Env;

    struct Fake(Option<&'static str>);
    impl HostNames for Fake {
        fn hostname(&self) -> io::Result<String> {
            Ok("worker-1".into())
        }
        fn canonical(&self, _: &str) -> Option<String> {
            self.0.map(str::to_owned)
        }
    }

    fn cfg(callable: Option<&str>) -> AirflowConfig {
        let mut env = Env::new();
        env.insert("AIRFLOW_CONFIG".into(), "/nonexistent/airflow.cfg".into());
        if let Some(c) = callable {
            env.insert("AIRFLOW__CORE__HOSTNAME_CALLABLE".into(), c.into());
        }
        AirflowConfig::load(&env).unwrap()
    }

    #[test]
    fn the_default_callable_is_the_canonical_name() {
        let fqdn = Fake(Some("worker-1.example.com"));
        assert_eq!(local(&cfg(None), &fqdn).unwrap(), "worker-1.example.com");
        assert_eq!(
            local(&cfg(Some("airflow.utils.net.getfqdn")), &fqdn).unwrap(),
            "worker-1.example.com"
        );
        assert_eq!(local(&cfg(None), &Fake(None)).unwrap(), "worker-1");
        assert_eq!(
            local(&cfg(Some("socket.gethostname")), &fqdn).unwrap(),
            "worker-1"
        );
        let e = local(&cfg(Some("my.module.name")), &fqdn).unwrap_err();
        assert!(e.to_string().contains("--hostname"), "{e}");
    }

    #[test]
    fn the_real_lookups_answer() {
        let name = RealHostNames.hostname().unwrap();
        assert!(!name.is_empty());
        // localhost resolves through /etc/hosts on any machine.
        assert!(RealHostNames.canonical("localhost").is_some());
    }
}
