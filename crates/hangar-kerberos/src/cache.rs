//! Writing the ticket cache so that readers never see a torn or empty file.
//!
//! For `FILE:` caches (and plain paths) the credentials go into a temporary cache file in the
//! target's directory, which is flushed to disk, given its owner, group and mode, and only then
//! renamed over the target: `rename(2)` within a directory is atomic, so a worker opening the
//! cache sees either the old complete file or the new complete file.

use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::krb5::{Ccache, Context, Krb5Error, Principal};

/// Where the cache lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheName {
    /// A `FILE:` (or `WRFILE:`) cache, or a plain path.
    File(PathBuf),
    /// Any other libkrb5 cache type (`DIR:`, `KEYRING:`, `KCM:`, `MEMORY:`...), written in place.
    Other(String),
}

impl CacheName {
    /// Interprets a cache name the way libkrb5 does: no `TYPE:` prefix means a file.
    pub fn parse(name: &str) -> CacheName {
        match name.split_once(':') {
            Some((kind, rest))
                if kind.eq_ignore_ascii_case("FILE") || kind.eq_ignore_ascii_case("WRFILE") =>
            {
                CacheName::File(PathBuf::from(rest))
            }
            // A one-letter prefix is a drive letter on Windows, never a type; no prefix: a path.
            Some((kind, _)) if kind.len() > 1 && !kind.contains('/') => {
                CacheName::Other(name.to_owned())
            }
            _ => CacheName::File(PathBuf::from(name)),
        }
    }

    /// The name to hand to libkrb5.
    pub fn krb5_name(&self) -> String {
        match self {
            CacheName::File(p) => format!("FILE:{}", p.display()),
            CacheName::Other(s) => s.clone(),
        }
    }
}

impl std::fmt::Display for CacheName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.krb5_name())
    }
}

/// Owner, group and mode for the written cache (k5start's `-o`, `-g`, `-m`), and whether to
/// drop libkrb5's configuration entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Numeric owner.
    pub owner: Option<u32>,
    /// Numeric group.
    pub group: Option<u32>,
    /// Permission bits (default: libkrb5's 0600).
    pub mode: Option<u32>,
    /// Leave out the `X-CACHECONF:` entries (for old Java readers).
    pub strip_config: bool,
}

/// Writing the cache failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// libkrb5 could not create or fill the temporary cache.
    #[error(
        "cannot write the ticket cache {path}: {source}; check that its directory exists and is writable by this user"
    )]
    Krb5 {
        /// The temporary or target cache.
        path: String,
        /// The libkrb5 error.
        source: Krb5Error,
    },
    /// A file operation on the temporary file or the target failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Owner, group or mode was asked for a cache that is not a file.
    #[error(
        "--cache-owner, --cache-group and --cache-mode need a FILE: cache, but the cache is {name}; \
         use a FILE: cache or drop those options"
    )]
    NotAFile {
        /// The cache name.
        name: String,
    },
}

/// The file-system side effects of finishing a cache file, so tests can observe their order.
pub trait FileOps {
    /// Flushes the file's data to disk.
    fn sync_file(&self, path: &Path) -> io::Result<()>;
    /// Changes owner and/or group.
    fn chown(&self, path: &Path, owner: Option<u32>, group: Option<u32>) -> io::Result<()>;
    /// Sets permission bits.
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Flushes a directory (makes a rename durable).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFileOps;

impl FileOps for RealFileOps {
    fn sync_file(&self, path: &Path) -> io::Result<()> {
        fs::File::open(path)?.sync_all()
    }
    fn chown(&self, path: &Path, owner: Option<u32>, group: Option<u32>) -> io::Result<()> {
        std::os::unix::fs::chown(path, owner, group)
    }
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()> {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        fs::File::open(dir)?.sync_all()
    }
}

/// Writes the credentials of `source` (a memory cache) to `target` for `client`.
pub fn write_cache(
    ctx: &Context,
    source: &Ccache<'_>,
    client: &Principal<'_>,
    target: &CacheName,
    options: &WriteOptions,
    ops: &dyn FileOps,
) -> Result<(), CacheError> {
    match target {
        CacheName::Other(name) => {
            if options.owner.is_some() || options.group.is_some() || options.mode.is_some() {
                return Err(CacheError::NotAFile { name: name.clone() });
            }
            let wrap = |source| CacheError::Krb5 {
                path: name.clone(),
                source,
            };
            let cc = ctx.ccache(name).map_err(wrap)?;
            cc.initialize(client).map_err(wrap)?;
            source.copy_into(&cc, !options.strip_config).map_err(wrap)?;
            Ok(())
        }
        CacheName::File(path) => {
            let tmp = temp_path_for(path);
            let fill = || -> Result<(), Krb5Error> {
                let cc = ctx.ccache(&format!("FILE:{}", tmp.display()))?;
                cc.initialize(client)?;
                source.copy_into(&cc, !options.strip_config)?;
                Ok(())
            };
            if let Err(e) = fill() {
                let _ = ops.remove(&tmp);
                return Err(CacheError::Krb5 {
                    path: format!("{} (temporary file {})", path.display(), tmp.display()),
                    source: e,
                });
            }
            finish(ops, &tmp, path, options)
        }
    }
}

/// Flushes, chowns, chmods and renames a complete temporary cache over the target. On any
/// failure the temporary file is removed and the target is left untouched.
pub fn finish(
    ops: &dyn FileOps,
    tmp: &Path,
    target: &Path,
    options: &WriteOptions,
) -> Result<(), CacheError> {
    let steps = || -> Result<(), CacheError> {
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Io { op, path, source }
        };
        ops.sync_file(tmp).map_err(io("flush", tmp))?;
        if options.owner.is_some() || options.group.is_some() {
            ops.chown(tmp, options.owner, options.group)
                .map_err(io("change the owner of", tmp))?;
        }
        if let Some(mode) = options.mode {
            ops.chmod(tmp, mode)
                .map_err(io("change the mode of", tmp))?;
        }
        ops.rename(tmp, target).map_err(io("replace", target))?;
        Ok(())
    };
    if let Err(e) = steps() {
        let _ = ops.remove(tmp);
        return Err(e);
    }
    // Durability of the rename only; the cache is already complete and visible.
    let _ = ops.sync_dir(parent_dir(target));
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `<dir>/.<name>.hangar-<random>`: same directory (so `rename` is atomic), hidden, unique.
fn temp_path_for(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    parent_dir(target).join(format!(".{name}.hangar-{:016x}", h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn cache_names_follow_libkrb5() {
        assert_eq!(
            CacheName::parse("FILE:/var/cc/cache"),
            CacheName::File("/var/cc/cache".into())
        );
        assert_eq!(
            CacheName::parse("/tmp/airflow_krb5_ccache"),
            CacheName::File("/tmp/airflow_krb5_ccache".into())
        );
        assert_eq!(
            CacheName::parse("relative"),
            CacheName::File("relative".into())
        );
        assert_eq!(
            CacheName::parse("KEYRING:persistent:0"),
            CacheName::Other("KEYRING:persistent:0".into())
        );
        assert_eq!(
            CacheName::parse("DIR:/run/krb"),
            CacheName::Other("DIR:/run/krb".into())
        );
        assert_eq!(CacheName::parse("/a:b/c"), CacheName::File("/a:b/c".into()));
        assert_eq!(CacheName::File("/x".into()).krb5_name(), "FILE:/x");
    }

    #[test]
    fn temp_file_is_a_hidden_sibling() {
        let t = temp_path_for(Path::new("/var/kerberos-ccache/cache"));
        assert_eq!(t.parent(), Some(Path::new("/var/kerberos-ccache")));
        assert!(
            t.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".cache.hangar-")
        );
        assert_ne!(t, temp_path_for(Path::new("/var/kerberos-ccache/cache")));
        assert_eq!(
            temp_path_for(Path::new("cache")).parent(),
            Some(Path::new("."))
        );
    }

    #[derive(Default)]
    struct Recorder {
        calls: RefCell<Vec<String>>,
        fail_on: Option<&'static str>,
    }

    impl Recorder {
        fn rec(&self, what: &'static str, detail: String) -> io::Result<()> {
            self.calls.borrow_mut().push(format!("{what} {detail}"));
            if self.fail_on == Some(what) {
                Err(io::Error::from_raw_os_error(1))
            } else {
                Ok(())
            }
        }
    }

    impl FileOps for Recorder {
        fn sync_file(&self, p: &Path) -> io::Result<()> {
            self.rec("sync", p.display().to_string())
        }
        fn chown(&self, p: &Path, o: Option<u32>, g: Option<u32>) -> io::Result<()> {
            self.rec("chown", format!("{} {o:?} {g:?}", p.display()))
        }
        fn chmod(&self, p: &Path, m: u32) -> io::Result<()> {
            self.rec("chmod", format!("{} {m:o}", p.display()))
        }
        fn rename(&self, f: &Path, t: &Path) -> io::Result<()> {
            self.rec("rename", format!("{} {}", f.display(), t.display()))
        }
        fn remove(&self, p: &Path) -> io::Result<()> {
            self.rec("remove", p.display().to_string())
        }
        fn sync_dir(&self, p: &Path) -> io::Result<()> {
            self.rec("syncdir", p.display().to_string())
        }
    }

    #[test]
    fn ownership_and_mode_are_set_before_the_rename() {
        let r = Recorder::default();
        let opts = WriteOptions {
            owner: Some(50000),
            group: Some(0),
            mode: Some(0o640),
            strip_config: false,
        };
        finish(&r, Path::new("/d/.c.tmp"), Path::new("/d/c"), &opts).unwrap();
        assert_eq!(
            *r.calls.borrow(),
            [
                "sync /d/.c.tmp",
                "chown /d/.c.tmp Some(50000) Some(0)",
                "chmod /d/.c.tmp 640",
                "rename /d/.c.tmp /d/c",
                "syncdir /d"
            ]
        );
    }

    #[test]
    fn a_failed_step_removes_the_temp_file_and_keeps_the_target() {
        let r = Recorder {
            fail_on: Some("chown"),
            ..Recorder::default()
        };
        let opts = WriteOptions {
            owner: Some(1),
            ..WriteOptions::default()
        };
        let err = finish(&r, Path::new("/d/.c.tmp"), Path::new("/d/c"), &opts).unwrap_err();
        assert!(
            err.to_string().contains("change the owner of /d/.c.tmp"),
            "{err}"
        );
        let calls = r.calls.borrow();
        assert_eq!(calls.last().unwrap(), "remove /d/.c.tmp");
        assert!(!calls.iter().any(|c| c.starts_with("rename")));
    }

    #[test]
    fn without_options_only_sync_and_rename() {
        let r = Recorder::default();
        finish(&r, Path::new("t"), Path::new("c"), &WriteOptions::default()).unwrap();
        assert_eq!(*r.calls.borrow(), ["sync t", "rename t c", "syncdir ."]);
    }
}
