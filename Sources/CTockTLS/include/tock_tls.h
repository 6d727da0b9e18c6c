#ifndef TOCK_TLS_H
#define TOCK_TLS_H

#include <stddef.h>
#include <sys/types.h>

/// A TLS client session over a connected socket (the system's OpenSSL; see tock_tls.c for why).
typedef struct tock_tls tock_tls;

/// Runs a TLS handshake on the connected socket `fd` and verifies the server's certificate for `host` (a name or an
/// IP literal). Trusted CAs: those of `ca_file` when it is not NULL or empty, else OpenSSL's defaults (the system's
/// store; `SSL_CERT_FILE` and `SSL_CERT_DIR` replace its file and directory). Returns NULL with a message in
/// `error` when the handshake or the verification fails; the socket stays the caller's to close in every case.
tock_tls *tock_tls_connect(int fd, const char *host, const char *ca_file, char *error, size_t error_size);

/// Up to `size` bytes: > 0 read, 0 at the end of the stream, -1 on an error (message in `error`).
ssize_t tock_tls_read(tock_tls *tls, void *buffer, size_t size, char *error, size_t error_size);

/// Writes all `size` bytes; 0, or -1 on an error (message in `error`).
int tock_tls_write(tock_tls *tls, const void *buffer, size_t size, char *error, size_t error_size);

/// Frees the session (without closing the socket).
void tock_tls_free(tock_tls *tls);

#endif
