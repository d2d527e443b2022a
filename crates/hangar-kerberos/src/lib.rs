//! Kerberos ticket refresher: keytab to ticket cache through MIT libkrb5 loaded at run time.
