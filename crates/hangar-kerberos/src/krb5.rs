//! A thin safe layer over the libkrb5 calls in [`crate::ffi`]: owned handles that free
//! themselves, and errors that carry libkrb5's own message.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use crate::ffi::{self, Api};

/// A libkrb5 call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{call} failed: {message} (krb5 error {code})")]
pub struct Krb5Error {
    /// The libkrb5 function that failed.
    pub call: &'static str,
    /// Its `krb5_error_code` (a com_err code or an errno value).
    pub code: i32,
    /// libkrb5's message for it.
    pub message: String,
}

/// Loading the library or creating a context failed.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// `libkrb5.so.3` could not be loaded.
    #[error(
        "cannot load {lib} ({reason}); `hangar kerberos` needs MIT Kerberos at run time: install it \
         with `apt-get install -y {pkg}` (Debian/Ubuntu) or your distribution's MIT krb5 library package",
        lib = ffi::LIBRARY,
        pkg = ffi::PACKAGE
    )]
    Load {
        /// The dynamic loader's message.
        reason: String,
    },
    /// `krb5_init_context` failed: almost always an unparsable krb5.conf.
    #[error("cannot read the Kerberos configuration ({files}): {source}")]
    Init {
        /// The configuration files libkrb5 reads (`KRB5_CONFIG` or the default).
        files: String,
        /// The libkrb5 error.
        source: Krb5Error,
    },
}

/// Ticket times, in seconds since the epoch (as the KDC stated them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// When the ticket becomes valid.
    pub start: i64,
    /// When it expires.
    pub end: i64,
    /// The last moment it can be renewed to (0 when not renewable).
    pub renew_till: i64,
}

/// What the refresher needs to know about one credential in a cache.
#[derive(Debug, Clone)]
pub struct CredInfo {
    /// The client principal, unparsed.
    pub client: String,
    /// The server principal, unparsed.
    pub server: String,
    /// True when this is a ticket-granting ticket for the client's own realm.
    pub is_local_tgt: bool,
    /// True for the `X-CACHECONF:` entries libkrb5 keeps in caches.
    pub is_config: bool,
    /// Ticket times.
    pub times: Times,
    /// Raw ticket flags (`TKT_FLG_*`).
    pub flags: i32,
    /// Number of addresses the ticket is bound to (0: addressless).
    pub address_count: usize,
}

impl CredInfo {
    /// Forwardable flag.
    pub fn forwardable(&self) -> bool {
        self.flags & ffi::TKT_FLG_FORWARDABLE != 0
    }
    /// Renewable flag (and a renew-till in the future of the start time).
    pub fn renewable(&self) -> bool {
        self.flags & ffi::TKT_FLG_RENEWABLE != 0 && self.times.renew_till > self.times.start
    }
    /// The KDC marked the ticket invalid (postdated, not yet validated).
    pub fn invalid(&self) -> bool {
        self.flags & ffi::TKT_FLG_INVALID != 0
    }
}

/// Options for an initial (keytab) ticket request, as `kinit` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitOptions {
    /// `-f` (true) / `-F` (false).
    pub forwardable: bool,
    /// `-a` (true: the host's addresses) / `-A` (false: addressless).
    pub include_ip: bool,
    /// `-r`: requested renewable lifetime in seconds.
    pub renew_life: Option<u32>,
    /// `-l`: requested ticket lifetime in seconds.
    pub lifetime: Option<u32>,
}

/// A libkrb5 context (not thread-safe; one per thread).
pub struct Context {
    api: &'static Api,
    raw: ffi::krb5_context,
}

impl Context {
    /// Loads libkrb5 if needed and creates a context (reads krb5.conf).
    pub fn new() -> Result<Context, ContextError> {
        let api = ffi::api().map_err(|reason| ContextError::Load { reason })?;
        let mut raw = ptr::null_mut();
        // SAFETY: `raw` is a valid out-pointer.
        let code = unsafe { (api.krb5_init_context)(&mut raw) };
        if code != 0 {
            let source = Krb5Error {
                call: "krb5_init_context",
                code,
                message: message_for(api, ptr::null_mut(), code),
            };
            return Err(ContextError::Init {
                files: config_files_description(),
                source,
            });
        }
        Ok(Context { api, raw })
    }

    fn err(&self, call: &'static str, code: i32) -> Krb5Error {
        Krb5Error {
            call,
            code,
            message: message_for(self.api, self.raw, code),
        }
    }

    fn check(&self, call: &'static str, code: i32) -> Result<(), Krb5Error> {
        if code == 0 {
            Ok(())
        } else {
            Err(self.err(call, code))
        }
    }

    /// `krb5_parse_name`.
    pub fn parse_name(&self, name: &str) -> Result<Principal<'_>, Krb5Error> {
        let cname = cstring(name, "krb5_parse_name")?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid context, NUL-terminated name, valid out-pointer.
        let code = unsafe { (self.api.krb5_parse_name)(self.raw, cname.as_ptr(), &mut raw) };
        self.check("krb5_parse_name", code)?;
        Ok(Principal { ctx: self, raw })
    }

    /// `krb5_kt_resolve`.
    pub fn keytab(&self, name: &str) -> Result<Keytab<'_>, Krb5Error> {
        let cname = cstring(name, "krb5_kt_resolve")?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid context, NUL-terminated name, valid out-pointer.
        let code = unsafe { (self.api.krb5_kt_resolve)(self.raw, cname.as_ptr(), &mut raw) };
        self.check("krb5_kt_resolve", code)?;
        Ok(Keytab { ctx: self, raw })
    }

    /// `krb5_cc_resolve`.
    pub fn ccache(&self, name: &str) -> Result<Ccache<'_>, Krb5Error> {
        let cname = cstring(name, "krb5_cc_resolve")?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid context, NUL-terminated name, valid out-pointer.
        let code = unsafe { (self.api.krb5_cc_resolve)(self.raw, cname.as_ptr(), &mut raw) };
        self.check("krb5_cc_resolve", code)?;
        Ok(Ccache {
            ctx: self,
            raw,
            destroy: false,
        })
    }

    /// A new, empty `MEMORY:` cache, destroyed when dropped.
    pub fn memory_ccache(&self) -> Result<Ccache<'_>, Krb5Error> {
        let mut raw = ptr::null_mut();
        // SAFETY: valid context, static NUL-terminated type, null hint, valid out-pointer.
        let code = unsafe {
            (self.api.krb5_cc_new_unique)(self.raw, c"MEMORY".as_ptr(), ptr::null(), &mut raw)
        };
        self.check("krb5_cc_new_unique", code)?;
        Ok(Ccache {
            ctx: self,
            raw,
            destroy: true,
        })
    }

    /// An AS exchange from the keytab (what `kinit -k -t` does). The credentials and the
    /// configuration entries libkrb5 records go into a new `MEMORY:` cache.
    pub fn init_from_keytab(
        &self,
        client: &Principal<'_>,
        keytab: &Keytab<'_>,
        options: &InitOptions,
    ) -> Result<Ccache<'_>, Krb5Error> {
        let out = self.memory_ccache()?;
        let mut opt = ptr::null_mut();
        // SAFETY: valid context and out-pointer.
        let code = unsafe { (self.api.krb5_get_init_creds_opt_alloc)(self.raw, &mut opt) };
        self.check("krb5_get_init_creds_opt_alloc", code)?;
        let opt_guard = OptGuard {
            ctx: self,
            raw: opt,
        };
        let mut addresses: *mut *mut ffi::krb5_address = ptr::null_mut();
        // SAFETY: `opt` is a live options structure for every call below; the address list
        // stays alive until after krb5_get_init_creds_keytab (freed at the end).
        let result = unsafe {
            (self.api.krb5_get_init_creds_opt_set_forwardable)(opt, i32::from(options.forwardable));
            if let Some(life) = options.renew_life {
                (self.api.krb5_get_init_creds_opt_set_renew_life)(opt, clamp_delta(life));
            }
            if let Some(life) = options.lifetime {
                (self.api.krb5_get_init_creds_opt_set_tkt_life)(opt, clamp_delta(life));
            }
            let mut code = 0;
            if options.include_ip {
                code = (self.api.krb5_os_localaddr)(self.raw, &mut addresses);
            }
            if code != 0 {
                Err(self.err("krb5_os_localaddr", code))
            } else {
                (self.api.krb5_get_init_creds_opt_set_address_list)(opt, addresses);
                let code =
                    (self.api.krb5_get_init_creds_opt_set_out_ccache)(self.raw, opt, out.raw);
                self.check("krb5_get_init_creds_opt_set_out_ccache", code)
                    .and_then(|()| {
                        let mut creds = ffi::krb5_creds::zeroed();
                        let code = (self.api.krb5_get_init_creds_keytab)(
                            self.raw,
                            &mut creds,
                            client.raw,
                            keytab.raw,
                            0,
                            ptr::null(),
                            opt,
                        );
                        (self.api.krb5_free_cred_contents)(self.raw, &mut creds);
                        self.check("krb5_get_init_creds_keytab", code)
                    })
            }
        };
        if !addresses.is_null() {
            // SAFETY: allocated by krb5_os_localaddr; no longer referenced (options freed next).
            unsafe { (self.api.krb5_free_addresses)(self.raw, addresses) };
        }
        drop(opt_guard);
        result.map(|()| out)
    }

    /// A TGS renewal of the TGT in `cache` (what `kinit -R` does). The renewed TGT goes into a
    /// new `MEMORY:` cache initialised for `client`.
    pub fn renew(
        &self,
        client: &Principal<'_>,
        cache: &Ccache<'_>,
    ) -> Result<Ccache<'_>, Krb5Error> {
        let mut creds = ffi::krb5_creds::zeroed();
        // SAFETY: valid context, principal and cache; `creds` is a zeroed out-structure.
        let code = unsafe {
            (self.api.krb5_get_renewed_creds)(
                self.raw,
                &mut creds,
                client.raw,
                cache.raw,
                ptr::null(),
            )
        };
        if code != 0 {
            // SAFETY: freeing a zeroed or partially filled structure is allowed.
            unsafe { (self.api.krb5_free_cred_contents)(self.raw, &mut creds) };
            return Err(self.err("krb5_get_renewed_creds", code));
        }
        let out = self.memory_ccache();
        let stored = out.and_then(|out| {
            out.initialize(client)?;
            // SAFETY: `creds` holds valid credentials returned by libkrb5.
            let code = unsafe { (self.api.krb5_cc_store_cred)(self.raw, out.raw, &mut creds) };
            self.check("krb5_cc_store_cred", code)?;
            Ok(out)
        });
        // SAFETY: contents were filled by libkrb5 and are not used after this.
        unsafe { (self.api.krb5_free_cred_contents)(self.raw, &mut creds) };
        stored
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: created by krb5_init_context; every handle borrowing it is gone.
        unsafe { (self.api.krb5_free_context)(self.raw) };
    }
}

struct OptGuard<'a> {
    ctx: &'a Context,
    raw: *mut ffi::krb5_get_init_creds_opt,
}

impl Drop for OptGuard<'_> {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            // SAFETY: allocated by krb5_get_init_creds_opt_alloc.
            unsafe { (self.ctx.api.krb5_get_init_creds_opt_free)(self.ctx.raw, self.raw) };
        }
    }
}

/// A parsed principal.
pub struct Principal<'a> {
    ctx: &'a Context,
    raw: ffi::krb5_principal,
}

impl Principal<'_> {
    /// The principal in its string form (`name/instance@REALM`).
    pub fn unparse(&self) -> Result<String, Krb5Error> {
        unparse(self.ctx, self.raw)
    }

    /// The realm.
    pub fn realm(&self) -> String {
        // SAFETY: `raw` is a live principal.
        unsafe { data_string(&(*self.raw).realm) }
    }
}

impl Drop for Principal<'_> {
    fn drop(&mut self) {
        // SAFETY: allocated by libkrb5 for this context.
        unsafe { (self.ctx.api.krb5_free_principal)(self.ctx.raw, self.raw) };
    }
}

/// A resolved keytab.
pub struct Keytab<'a> {
    ctx: &'a Context,
    raw: ffi::krb5_keytab,
}

impl Keytab<'_> {
    /// Checks that the keytab holds a key for `principal` (any version, any enctype), reading
    /// only the keytab: `krb5_kt_get_entry` fails with `KRB5_KT_NOTFOUND` when it does not, and
    /// with a keytab error when the file is malformed.
    pub fn has_key_for(&self, principal: &Principal<'_>) -> Result<(), Krb5Error> {
        let mut entry = ffi::krb5_keytab_entry::zeroed();
        // SAFETY: live context, keytab and principal of this context; valid out-pointer.
        let code = unsafe {
            (self.ctx.api.krb5_kt_get_entry)(
                self.ctx.raw,
                self.raw,
                principal.raw,
                0,
                0,
                &mut entry,
            )
        };
        self.ctx.check("krb5_kt_get_entry", code)?;
        // SAFETY: filled by the successful krb5_kt_get_entry above.
        unsafe { (self.ctx.api.krb5_free_keytab_entry_contents)(self.ctx.raw, &mut entry) };
        Ok(())
    }
}

impl Drop for Keytab<'_> {
    fn drop(&mut self) {
        // SAFETY: resolved by krb5_kt_resolve.
        unsafe { (self.ctx.api.krb5_kt_close)(self.ctx.raw, self.raw) };
    }
}

/// A credential cache handle (closed, or destroyed for memory caches, when dropped).
pub struct Ccache<'a> {
    ctx: &'a Context,
    raw: ffi::krb5_ccache,
    destroy: bool,
}

impl Ccache<'_> {
    /// `krb5_cc_initialize`: empties the cache (creating it if needed) for `client`.
    pub fn initialize(&self, client: &Principal<'_>) -> Result<(), Krb5Error> {
        // SAFETY: valid handles.
        let code = unsafe { (self.ctx.api.krb5_cc_initialize)(self.ctx.raw, self.raw, client.raw) };
        self.ctx.check("krb5_cc_initialize", code)
    }

    /// The cache's default principal.
    pub fn principal(&self) -> Result<Principal<'_>, Krb5Error> {
        let mut raw = ptr::null_mut();
        // SAFETY: valid handles and out-pointer.
        let code =
            unsafe { (self.ctx.api.krb5_cc_get_principal)(self.ctx.raw, self.raw, &mut raw) };
        self.ctx.check("krb5_cc_get_principal", code)?;
        Ok(Principal { ctx: self.ctx, raw })
    }

    /// The cache type (`FILE`, `MEMORY`, ...).
    pub fn cache_type(&self) -> String {
        // SAFETY: valid handles; the result is a static string owned by libkrb5.
        let p = unsafe { (self.ctx.api.krb5_cc_get_type)(self.ctx.raw, self.raw) };
        if p.is_null() {
            return String::new();
        }
        // SAFETY: NUL-terminated static string.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    /// Calls `f` for every credential in the cache, in order.
    fn for_each(
        &self,
        mut f: impl FnMut(&mut ffi::krb5_creds) -> Result<(), Krb5Error>,
    ) -> Result<(), Krb5Error> {
        let api = self.ctx.api;
        let mut cursor: ffi::krb5_cc_cursor = ptr::null_mut();
        // SAFETY: valid handles and out-pointer.
        let code = unsafe { (api.krb5_cc_start_seq_get)(self.ctx.raw, self.raw, &mut cursor) };
        self.ctx.check("krb5_cc_start_seq_get", code)?;
        let mut result = Ok(());
        loop {
            let mut creds = ffi::krb5_creds::zeroed();
            // SAFETY: cursor from krb5_cc_start_seq_get on this cache.
            let code =
                unsafe { (api.krb5_cc_next_cred)(self.ctx.raw, self.raw, &mut cursor, &mut creds) };
            if code != 0 {
                if code != KRB5_CC_END {
                    result = Err(self.ctx.err("krb5_cc_next_cred", code));
                }
                break;
            }
            let step = f(&mut creds);
            // SAFETY: filled by krb5_cc_next_cred.
            unsafe { (api.krb5_free_cred_contents)(self.ctx.raw, &mut creds) };
            if let Err(e) = step {
                result = Err(e);
                break;
            }
        }
        // SAFETY: cursor from krb5_cc_start_seq_get on this cache.
        unsafe { (api.krb5_cc_end_seq_get)(self.ctx.raw, self.raw, &mut cursor) };
        result
    }

    /// Reads every credential in the cache.
    pub fn credentials(&self) -> Result<Vec<CredInfo>, Krb5Error> {
        let mut out = Vec::new();
        self.for_each(|c| {
            out.push(cred_info(self.ctx, c)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Copies this cache's credentials into `dest` (already initialised); configuration
    /// entries (`X-CACHECONF:`) only when `with_config`. Returns how many were copied.
    pub fn copy_into(&self, dest: &Ccache<'_>, with_config: bool) -> Result<usize, Krb5Error> {
        let api = self.ctx.api;
        let mut n = 0;
        self.for_each(|c| {
            // SAFETY: `c.server` is a live principal inside a filled krb5_creds.
            let is_config = unsafe { (api.krb5_is_config_principal)(self.ctx.raw, c.server) } != 0;
            if is_config && !with_config {
                return Ok(());
            }
            // SAFETY: valid handles; `c` holds valid credentials.
            let code = unsafe { (api.krb5_cc_store_cred)(self.ctx.raw, dest.raw, c) };
            n += 1;
            self.ctx.check("krb5_cc_store_cred", code)
        })?;
        Ok(n)
    }

    /// Copies only the configuration entries of this cache into `dest`.
    pub fn copy_config_into(&self, dest: &Ccache<'_>) -> Result<usize, Krb5Error> {
        let api = self.ctx.api;
        let mut n = 0;
        self.for_each(|c| {
            // SAFETY: as in `copy_into`.
            let is_config = unsafe { (api.krb5_is_config_principal)(self.ctx.raw, c.server) } != 0;
            if !is_config {
                return Ok(());
            }
            // SAFETY: valid handles; `c` holds valid credentials.
            let code = unsafe { (api.krb5_cc_store_cred)(self.ctx.raw, dest.raw, c) };
            n += 1;
            self.ctx.check("krb5_cc_store_cred", code)
        })?;
        Ok(n)
    }
}

impl Drop for Ccache<'_> {
    fn drop(&mut self) {
        // SAFETY: resolved or created by libkrb5 for this context.
        unsafe {
            if self.destroy {
                (self.ctx.api.krb5_cc_destroy)(self.ctx.raw, self.raw);
            } else {
                (self.ctx.api.krb5_cc_close)(self.ctx.raw, self.raw);
            }
        }
    }
}

/// `KRB5_CC_END`: the normal end of a cache iteration.
const KRB5_CC_END: i32 = -1_765_328_242;

fn cred_info(ctx: &Context, c: &ffi::krb5_creds) -> Result<CredInfo, Krb5Error> {
    // SAFETY: `c` was filled by libkrb5: principals are live, address list null-terminated.
    unsafe {
        let is_config = (ctx.api.krb5_is_config_principal)(ctx.raw, c.server) != 0;
        let client_realm = data_string(&(*c.client).realm);
        let server = &*c.server;
        let comps = principal_components(server);
        let is_local_tgt = !is_config
            && comps.len() == 2
            && comps[0] == "krbtgt"
            && comps[1] == client_realm
            && data_string(&server.realm) == client_realm;
        let mut address_count = 0;
        if !c.addresses.is_null() {
            while !(*c.addresses.add(address_count)).is_null() {
                address_count += 1;
            }
        }
        Ok(CredInfo {
            client: unparse(ctx, c.client)?,
            server: unparse(ctx, c.server)?,
            is_local_tgt,
            is_config,
            times: Times {
                start: ts(if c.times.starttime != 0 {
                    c.times.starttime
                } else {
                    c.times.authtime
                }),
                end: ts(c.times.endtime),
                renew_till: ts(c.times.renew_till),
            },
            flags: c.ticket_flags,
            address_count,
        })
    }
}

/// krb5 timestamps are 32-bit and, since krb5 1.16, read as unsigned (good until 2106).
fn ts(t: i32) -> i64 {
    i64::from(u32::from_ne_bytes(t.to_ne_bytes()))
}

fn clamp_delta(secs: u32) -> i32 {
    i32::try_from(secs).unwrap_or(i32::MAX)
}

/// # Safety
/// `d` must be a valid krb5_data.
unsafe fn data_string(d: &ffi::krb5_data) -> String {
    if d.data.is_null() || d.length == 0 {
        return String::new();
    }
    // SAFETY: krb5_data points at `length` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(d.data.cast::<u8>(), d.length as usize) };
    String::from_utf8_lossy(bytes).into_owned()
}

/// # Safety
/// `p` must be a valid principal.
unsafe fn principal_components(p: &ffi::krb5_principal_data) -> Vec<String> {
    let n = usize::try_from(p.length).unwrap_or(0);
    (0..n)
        // SAFETY: `data` holds `length` components.
        .map(|i| unsafe { data_string(&*p.data.add(i)) })
        .collect()
}

fn unparse(ctx: &Context, p: ffi::krb5_principal) -> Result<String, Krb5Error> {
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: valid context and principal, valid out-pointer.
    let code = unsafe { (ctx.api.krb5_unparse_name)(ctx.raw, p, &mut out) };
    ctx.check("krb5_unparse_name", code)?;
    // SAFETY: NUL-terminated string allocated by libkrb5, freed right after copying.
    let s = unsafe { CStr::from_ptr(out) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: allocated by krb5_unparse_name.
    unsafe { (ctx.api.krb5_free_unparsed_name)(ctx.raw, out) };
    Ok(s)
}

fn message_for(api: &Api, ctx: ffi::krb5_context, code: i32) -> String {
    // SAFETY: libkrb5 accepts a null context here (falls back to the com_err tables).
    let p = unsafe { (api.krb5_get_error_message)(ctx, code) };
    if p.is_null() {
        return format!("error {code}");
    }
    // SAFETY: NUL-terminated string owned by libkrb5 until freed below.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    // SAFETY: returned by krb5_get_error_message for this context.
    unsafe { (api.krb5_free_error_message)(ctx, p) };
    s
}

fn cstring(s: &str, call: &'static str) -> Result<CString, Krb5Error> {
    CString::new(s).map_err(|_| Krb5Error {
        call,
        code: libc_einval(),
        message: format!("{s:?} contains a NUL byte"),
    })
}

const fn libc_einval() -> i32 {
    22
}

/// The krb5.conf files libkrb5 reads, for error messages.
pub fn config_files_description() -> String {
    match std::env::var("KRB5_CONFIG") {
        Ok(v) if !v.is_empty() => format!("KRB5_CONFIG={v}"),
        _ => "/etc/krb5.conf (KRB5_CONFIG is not set)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::new()
            .unwrap_or_else(|e| panic!("{e} (the tests need: apt-get install -y libkrb5-3)"))
    }

    #[test]
    fn principals_parse_and_unparse() {
        let ctx = ctx();
        let p = ctx
            .parse_name("airflow/worker.example.test@EXAMPLE.TEST")
            .unwrap();
        assert_eq!(
            p.unparse().unwrap(),
            "airflow/worker.example.test@EXAMPLE.TEST"
        );
        assert_eq!(p.realm(), "EXAMPLE.TEST");
        let err = ctx
            .parse_name("a@B@C")
            .err()
            .expect("two realms do not parse");
        assert_eq!(err.call, "krb5_parse_name");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn memory_caches_hold_their_principal_and_no_credentials() {
        let ctx = ctx();
        let p = ctx.parse_name("someone@EXAMPLE.TEST").unwrap();
        let mem = ctx.memory_ccache().unwrap();
        assert_eq!(mem.cache_type(), "MEMORY");
        mem.initialize(&p).unwrap();
        assert_eq!(
            mem.principal().unwrap().unparse().unwrap(),
            "someone@EXAMPLE.TEST"
        );
        assert!(mem.credentials().unwrap().is_empty());
        let other = ctx.memory_ccache().unwrap();
        other.initialize(&p).unwrap();
        assert_eq!(mem.copy_into(&other, true).unwrap(), 0);
    }

    #[test]
    fn a_missing_file_cache_is_an_error_with_the_file_name() {
        let ctx = ctx();
        let cc = ctx.ccache("FILE:/nonexistent/dir/cache").unwrap();
        let err = cc.credentials().unwrap_err();
        assert!(err.message.contains("/nonexistent/dir/cache"), "{err}");
    }
}
