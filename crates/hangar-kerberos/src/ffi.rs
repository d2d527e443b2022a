//! The few MIT libkrb5 entry points the refresher needs, resolved with `dlopen` at run time.
//!
//! The binary does not link libkrb5: only `hangar kerberos` loads `libkrb5.so.3`, so the same
//! binary runs as an image entrypoint where the library is absent. Types mirror `krb5.h`
//! (MIT krb5 1.x, stable ABI since 1.0) for the structures whose fields we read.
#![allow(unsafe_code, non_camel_case_types, unreachable_pub)]

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;

pub type krb5_error_code = i32;
pub type krb5_context = *mut c_void;
pub type krb5_keytab = *mut c_void;
pub type krb5_ccache = *mut c_void;
pub type krb5_get_init_creds_opt = c_void;
pub type krb5_cc_cursor = *mut c_void;
pub type krb5_deltat = i32;
pub type krb5_principal = *mut krb5_principal_data;

#[repr(C)]
#[derive(Debug)]
pub struct krb5_data {
    pub magic: i32,
    pub length: c_uint,
    pub data: *mut c_char,
}

#[repr(C)]
#[derive(Debug)]
pub struct krb5_principal_data {
    pub magic: i32,
    pub realm: krb5_data,
    pub data: *mut krb5_data,
    pub length: i32,
    pub r#type: i32,
}

#[repr(C)]
#[derive(Debug)]
pub struct krb5_keyblock {
    pub magic: i32,
    pub enctype: i32,
    pub length: c_uint,
    pub contents: *mut u8,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct krb5_ticket_times {
    pub authtime: i32,
    pub starttime: i32,
    pub endtime: i32,
    pub renew_till: i32,
}

#[repr(C)]
#[derive(Debug)]
pub struct krb5_address {
    pub magic: i32,
    pub addrtype: i32,
    pub length: c_uint,
    pub contents: *mut u8,
}

#[repr(C)]
#[derive(Debug)]
pub struct krb5_creds {
    pub magic: i32,
    pub client: krb5_principal,
    pub server: krb5_principal,
    pub keyblock: krb5_keyblock,
    pub times: krb5_ticket_times,
    pub is_skey: c_uint,
    pub ticket_flags: i32,
    pub addresses: *mut *mut krb5_address,
    pub ticket: krb5_data,
    pub second_ticket: krb5_data,
    pub authdata: *mut *mut c_void,
}

impl krb5_creds {
    /// An all-zero `krb5_creds`, the state libkrb5 expects for an output structure.
    pub fn zeroed() -> Self {
        // SAFETY: krb5_creds is plain C data; all-zero (null pointers, zero integers) is the
        // documented initial state for an output argument.
        unsafe { std::mem::zeroed() }
    }
}

/// One keytab entry (`krb5_keytab_entry`), filled by `krb5_kt_get_entry`.
#[repr(C)]
#[derive(Debug)]
pub struct krb5_keytab_entry {
    pub magic: i32,
    pub principal: krb5_principal,
    pub timestamp: i32,
    pub vno: c_uint,
    pub key: krb5_keyblock,
}

impl krb5_keytab_entry {
    /// An all-zero entry, the state libkrb5 expects for an output structure.
    pub fn zeroed() -> Self {
        // SAFETY: plain C data; all-zero (null pointers, zero integers) is a valid value.
        unsafe { std::mem::zeroed() }
    }
}

pub const TKT_FLG_FORWARDABLE: i32 = 0x4000_0000;
pub const TKT_FLG_INVALID: i32 = 0x0100_0000;
pub const TKT_FLG_RENEWABLE: i32 = 0x0080_0000;

/// The shared library Debian calls `libkrb5-3`.
pub const LIBRARY: &str = "libkrb5.so.3";
/// The Debian package that provides [`LIBRARY`].
pub const PACKAGE: &str = "libkrb5-3";

macro_rules! krb5_api {
    ($( $name:ident : fn($($arg:ty),*) $(-> $ret:ty)? ; )*) => {
        /// Function pointers into the loaded libkrb5; the library stays loaded for the process.
        pub struct Api {
            _lib: libloading::Library,
            $( pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?, )*
        }

        impl Api {
            fn load() -> Result<Api, String> {
                // SAFETY: loading MIT libkrb5 runs its (well-behaved) initialisers only.
                let lib = unsafe { libloading::Library::new(LIBRARY) }.map_err(|e| e.to_string())?;
                $(
                    // SAFETY: the symbol has this C signature in every MIT krb5 1.x (krb5.h).
                    let $name = unsafe {
                        *lib.get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>(
                            concat!(stringify!($name), "\0").as_bytes(),
                        )
                        .map_err(|e| e.to_string())?
                    };
                )*
                Ok(Api { _lib: lib, $( $name, )* })
            }
        }
    };
}

krb5_api! {
    krb5_init_context: fn(*mut krb5_context) -> krb5_error_code;
    krb5_free_context: fn(krb5_context);
    krb5_get_error_message: fn(krb5_context, krb5_error_code) -> *const c_char;
    krb5_free_error_message: fn(krb5_context, *const c_char);
    krb5_parse_name: fn(krb5_context, *const c_char, *mut krb5_principal) -> krb5_error_code;
    krb5_unparse_name: fn(krb5_context, krb5_principal, *mut *mut c_char) -> krb5_error_code;
    krb5_free_unparsed_name: fn(krb5_context, *mut c_char);
    krb5_free_principal: fn(krb5_context, krb5_principal);
    krb5_is_config_principal: fn(krb5_context, krb5_principal) -> c_uint;
    krb5_kt_resolve: fn(krb5_context, *const c_char, *mut krb5_keytab) -> krb5_error_code;
    krb5_kt_close: fn(krb5_context, krb5_keytab) -> krb5_error_code;
    krb5_kt_get_entry: fn(krb5_context, krb5_keytab, krb5_principal, c_uint, i32, *mut krb5_keytab_entry) -> krb5_error_code;
    krb5_free_keytab_entry_contents: fn(krb5_context, *mut krb5_keytab_entry) -> krb5_error_code;
    krb5_get_init_creds_opt_alloc: fn(krb5_context, *mut *mut krb5_get_init_creds_opt) -> krb5_error_code;
    krb5_get_init_creds_opt_free: fn(krb5_context, *mut krb5_get_init_creds_opt);
    krb5_get_init_creds_opt_set_tkt_life: fn(*mut krb5_get_init_creds_opt, krb5_deltat);
    krb5_get_init_creds_opt_set_renew_life: fn(*mut krb5_get_init_creds_opt, krb5_deltat);
    krb5_get_init_creds_opt_set_forwardable: fn(*mut krb5_get_init_creds_opt, c_int);
    krb5_get_init_creds_opt_set_address_list: fn(*mut krb5_get_init_creds_opt, *mut *mut krb5_address);
    krb5_get_init_creds_opt_set_out_ccache: fn(krb5_context, *mut krb5_get_init_creds_opt, krb5_ccache) -> krb5_error_code;
    krb5_get_init_creds_keytab: fn(krb5_context, *mut krb5_creds, krb5_principal, krb5_keytab, krb5_deltat, *const c_char, *mut krb5_get_init_creds_opt) -> krb5_error_code;
    krb5_get_renewed_creds: fn(krb5_context, *mut krb5_creds, krb5_principal, krb5_ccache, *const c_char) -> krb5_error_code;
    krb5_free_cred_contents: fn(krb5_context, *mut krb5_creds);
    krb5_os_localaddr: fn(krb5_context, *mut *mut *mut krb5_address) -> krb5_error_code;
    krb5_free_addresses: fn(krb5_context, *mut *mut krb5_address);
    krb5_cc_resolve: fn(krb5_context, *const c_char, *mut krb5_ccache) -> krb5_error_code;
    krb5_cc_new_unique: fn(krb5_context, *const c_char, *const c_char, *mut krb5_ccache) -> krb5_error_code;
    krb5_cc_initialize: fn(krb5_context, krb5_ccache, krb5_principal) -> krb5_error_code;
    krb5_cc_store_cred: fn(krb5_context, krb5_ccache, *mut krb5_creds) -> krb5_error_code;
    krb5_cc_get_principal: fn(krb5_context, krb5_ccache, *mut krb5_principal) -> krb5_error_code;
    krb5_cc_start_seq_get: fn(krb5_context, krb5_ccache, *mut krb5_cc_cursor) -> krb5_error_code;
    krb5_cc_next_cred: fn(krb5_context, krb5_ccache, *mut krb5_cc_cursor, *mut krb5_creds) -> krb5_error_code;
    krb5_cc_end_seq_get: fn(krb5_context, krb5_ccache, *mut krb5_cc_cursor) -> krb5_error_code;
    krb5_cc_close: fn(krb5_context, krb5_ccache) -> krb5_error_code;
    krb5_cc_destroy: fn(krb5_context, krb5_ccache) -> krb5_error_code;
    krb5_cc_get_type: fn(krb5_context, krb5_ccache) -> *const c_char;
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

/// Loads libkrb5 once per process. The error is the dynamic loader's message.
pub fn api() -> Result<&'static Api, String> {
    API.get_or_init(Api::load).as_ref().map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_krb5_h_on_lp64() {
        // Offsets of krb5_creds on x86_64/aarch64 Linux, computed from krb5.h by hand:
        // magic 0, client 8, server 16, keyblock 24 (24 bytes), times 48 (16), is_skey 64,
        // ticket_flags 68, addresses 72, ticket 80 (16), second_ticket 96 (16), authdata 112.
        assert_eq!(std::mem::size_of::<krb5_data>(), 16);
        assert_eq!(std::mem::size_of::<krb5_keyblock>(), 24);
        assert_eq!(std::mem::offset_of!(krb5_creds, times), 48);
        assert_eq!(std::mem::offset_of!(krb5_creds, ticket_flags), 68);
        assert_eq!(std::mem::offset_of!(krb5_creds, ticket), 80);
        assert_eq!(std::mem::size_of::<krb5_creds>(), 120);
        assert_eq!(std::mem::offset_of!(krb5_principal_data, data), 24);
        assert_eq!(std::mem::offset_of!(krb5_principal_data, length), 32);
        // krb5_keytab_entry: magic 0, principal 8, timestamp 16, vno 20, key 24 (24 bytes).
        assert_eq!(std::mem::offset_of!(krb5_keytab_entry, key), 24);
        assert_eq!(std::mem::size_of::<krb5_keytab_entry>(), 48);
    }
}
