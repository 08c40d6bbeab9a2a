#ifndef KPID_CSQLITE_SHIM_H
#define KPID_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro casting -1 to a function pointer; Swift cannot import it.
static inline int kpid_sqlite3_bind_blob_transient(sqlite3_stmt *s, int i, const void *p, int n) {
    return sqlite3_bind_blob(s, i, p, n, SQLITE_TRANSIENT);
}
static inline int kpid_sqlite3_bind_text_transient(sqlite3_stmt *s, int i, const char *p, int n) {
    return sqlite3_bind_text(s, i, p, n, SQLITE_TRANSIENT);
}
/// 64-bit length variants: a blob over 2 GiB must fail with SQLITE_TOOBIG, not wrap an int.
static inline int kpid_sqlite3_bind_blob64_transient(sqlite3_stmt *s, int i, const void *p, sqlite3_uint64 n) {
    return sqlite3_bind_blob64(s, i, p, n, SQLITE_TRANSIENT);
}
static inline int kpid_sqlite3_bind_text64_transient(sqlite3_stmt *s, int i, const char *p, sqlite3_uint64 n) {
    return sqlite3_bind_text64(s, i, p, n, SQLITE_TRANSIENT, SQLITE_UTF8);
}
#endif
