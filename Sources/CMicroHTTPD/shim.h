/*
 * C shim for libmicrohttpd, used only by the KPIHTTP target.
 *
 * Swift cannot call C variadic functions (MHD_start_daemon, MHD_get_daemon_info,
 * MHD_get_connection_info) nor import macros built from casts
 * (MHD_SIZE_UNKNOWN, MHD_CONTENT_READER_END_*), so this header wraps them in
 * small static inline functions. Every symbol is prefixed `kpid_mhd_`.
 */
#ifndef KPID_MHD_SHIM_H
#define KPID_MHD_SHIM_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <microhttpd.h>

/* ---- Constants Swift cannot import ------------------------------------------------ */

static inline uint64_t kpid_mhd_size_unknown(void) { return MHD_SIZE_UNKNOWN; }
static inline ssize_t kpid_mhd_content_reader_end_of_stream(void) { return MHD_CONTENT_READER_END_OF_STREAM; }
static inline ssize_t kpid_mhd_content_reader_end_with_error(void) { return MHD_CONTENT_READER_END_WITH_ERROR; }
static inline MHD_socket kpid_mhd_invalid_socket(void) { return MHD_INVALID_SOCKET; }

/* ---- Daemon start ------------------------------------------------------------------ */

/*
 * Starts a daemon with the options given as an array terminated by MHD_OPTION_END.
 * The port argument of MHD_start_daemon is ignored when the array carries
 * MHD_OPTION_SOCK_ADDR, which is how KPIHTTP binds.
 */
static inline struct MHD_Daemon *kpid_mhd_start_daemon(
    unsigned int flags, uint16_t port, MHD_AccessHandlerCallback handler, void *handler_cls,
    const struct MHD_OptionItem *options)
{
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/* Option items whose value is a function pointer: C casts it to intptr_t, as MHD_OPTION_ARRAY expects. */
static inline struct MHD_OptionItem kpid_mhd_option_notify_completed(MHD_RequestCompletedCallback callback, void *cls)
{
    struct MHD_OptionItem item = { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)callback, cls };
    return item;
}

/* MHD formats its log lines with a va_list; Swift gets them as finished strings. */
typedef void (*kpid_mhd_log_function)(void *context, const char *message);

struct kpid_mhd_log_sink {
    kpid_mhd_log_function function;
    void *context;
};

static inline void kpid_mhd_log_trampoline(void *cls, const char *format, va_list ap)
{
    const struct kpid_mhd_log_sink *sink = (const struct kpid_mhd_log_sink *)cls;
    char message[1024];
    vsnprintf(message, sizeof message, format, ap);
    size_t length = strlen(message);
    while (length > 0 && (message[length - 1] == '\n' || message[length - 1] == '\r')) {
        message[--length] = '\0';
    }
    sink->function(sink->context, message);
}

/* The sink must outlive the daemon. */
static inline struct MHD_OptionItem kpid_mhd_option_logger(struct kpid_mhd_log_sink *sink)
{
    struct MHD_OptionItem item = { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)&kpid_mhd_log_trampoline, sink };
    return item;
}

/* ---- TLS ------------------------------------------------------------------------------ */

/* 1 when this libmicrohttpd was built with HTTPS support (GnuTLS), else 0. */
static inline int kpid_mhd_tls_supported(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES ? 1 : 0;
}

/* Option items for an in-memory PEM certificate (chain) and key; the strings must stay valid
   while the daemon runs. */
static inline struct MHD_OptionItem kpid_mhd_option_https_mem_cert(const char *pem)
{
    struct MHD_OptionItem item = { MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)pem };
    return item;
}

static inline struct MHD_OptionItem kpid_mhd_option_https_mem_key(const char *pem)
{
    struct MHD_OptionItem item = { MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)pem };
    return item;
}

/* GnuTLS priorities allowing TLS 1.<minimum_minor> and later (0: GnuTLS' NORMAL, every version
   it enables). The strings are static. */
static inline struct MHD_OptionItem kpid_mhd_option_https_priorities(int minimum_minor)
{
    const char *p = minimum_minor >= 3 ? "NORMAL:-VERS-ALL:+VERS-TLS1.3"
                  : minimum_minor == 2 ? "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
                  : minimum_minor == 1 ? "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:+VERS-TLS1.1"
                  : "NORMAL";
    struct MHD_OptionItem item = { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)p };
    return item;
}

static inline unsigned int kpid_mhd_use_tls_flag(void) { return (unsigned int)MHD_USE_TLS; }

/* ---- Daemon and connection information (variadic in MHD) ---------------------------- */

/* Returns the port the daemon listens on, or 0 if unknown. */
static inline uint16_t kpid_mhd_bind_port(struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

/* Writes the client's numeric address into buffer; returns 0 on success, -1 if unavailable. */
static inline int kpid_mhd_client_address(struct MHD_Connection *connection, char *buffer, size_t size)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL || size == 0) {
        return -1;
    }
    const struct sockaddr *address = info->client_addr;
    const char *result = NULL;
    if (address->sa_family == AF_INET) {
        result = inet_ntop(AF_INET, &((const struct sockaddr_in *)address)->sin_addr, buffer, (socklen_t)size);
    } else if (address->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;
        /* A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; show them as plain IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            result = inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], buffer, (socklen_t)size);
        } else {
            result = inet_ntop(AF_INET6, &v6->sin6_addr, buffer, (socklen_t)size);
        }
    }
    return result == NULL ? -1 : 0;
}

/* The connection's socket descriptor, or -1 if unknown. */
static inline int kpid_mhd_connection_socket(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : (int)info->connect_fd;
}

/* ---- Socket addresses ------------------------------------------------------------------ */

/*
 * Parses a numeric IPv4 or IPv6 address (no host names, so binding never waits on DNS)
 * into `out`. Returns AF_INET or AF_INET6, or 0 if `host` is neither.
 */
static inline int kpid_mhd_make_socket_address(const char *host, uint16_t port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return AF_INET;
    }
    memset(out, 0, sizeof *out);
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return AF_INET6;
    }
    return 0;
}

#endif /* KPID_MHD_SHIM_H */
