//! Recording fakes of [`System`] and [`Runner`] for unit tests.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use hangar_init::ChildSpec;

use crate::error::EntrypointError;
use crate::os::System;
use crate::run::Runner;

#[derive(Debug, Default)]
pub(crate) struct FakeSystem {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) umask: Option<u32>,
    pub(crate) files: BTreeMap<PathBuf, Vec<u8>>,
    pub(crate) writable: BTreeSet<PathBuf>,
    pub(crate) dirs: BTreeMap<PathBuf, Vec<OsString>>,
    pub(crate) existing: BTreeSet<PathBuf>,
    pub(crate) appends: Vec<(PathBuf, Vec<u8>)>,
}

impl FakeSystem {
    pub(crate) fn new(uid: u32, gid: u32) -> Self {
        Self {
            uid,
            gid,
            ..Self::default()
        }
    }
}

impl System for FakeSystem {
    fn uid(&self) -> u32 {
        self.uid
    }
    fn gid(&self) -> u32 {
        self.gid
    }
    fn set_umask(&mut self, mask: u32) {
        self.umask = Some(mask);
    }
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn is_writable(&self, path: &Path) -> bool {
        self.writable.contains(path)
    }
    fn append(&mut self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.appends.push((path.to_owned(), data.to_vec()));
        self.files
            .entry(path.to_owned())
            .or_default()
            .extend_from_slice(data);
        Ok(())
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        self.dirs
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn exists(&self, path: &Path) -> bool {
        self.existing.contains(path)
            || self.files.contains_key(path)
            || self.dirs.contains_key(path)
    }
    fn pending_stop_signal(&self) -> Option<i32> {
        None
    }
}

/// Records every command; answers with queued (code, stdout) pairs, else (0, "").
#[derive(Debug, Default)]
pub(crate) struct FakeRunner {
    pub(crate) ran: Vec<ChildSpec>,
    pub(crate) answers: VecDeque<(u8, Vec<u8>)>,
}

impl FakeRunner {
    pub(crate) fn argv(&self) -> Vec<String> {
        self.ran
            .iter()
            .map(|c| {
                std::iter::once(&c.program)
                    .chain(&c.args)
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
}

impl Runner for FakeRunner {
    fn run(&mut self, cmd: &ChildSpec) -> Result<u8, EntrypointError> {
        self.ran.push(cmd.clone());
        Ok(self.answers.pop_front().map_or(0, |a| a.0))
    }
    fn run_capture(&mut self, cmd: &ChildSpec) -> Result<(u8, Vec<u8>), EntrypointError> {
        self.ran.push(cmd.clone());
        Ok(self.answers.pop_front().unwrap_or((0, Vec::new())))
    }
    fn sleep(&mut self, _duration: std::time::Duration) -> Result<Option<u8>, EntrypointError> {
        Ok(None)
    }
}
