// TLS for the CLI's API client, on the system's OpenSSL (libssl3): the client speaks HTTP/1.1 over its own socket,
// and this wraps that socket, so server-sent events still arrive as they are sent. Why not URLSession: on Linux it
// cannot be told to trust a private CA (FoundationNetworking sets libcurl's CA bundle to the system's and reads no
// variable but on Android; SSL_CERT_FILE is ignored). Why not swift-nio-ssl: BoringSSL adds minutes to every clean
// build (PLATFORM-NOTES.md) and megabytes to `tock` for a client of a few hundred lines. libssl3 is already on any
// machine with Swift's runtime (FoundationNetworking's libcurl links it).
#include "tock_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tock_tls {
    SSL_CTX *context;
    SSL *ssl;
};

/// `what`, with OpenSSL's first queued error (or errno's text) after it.
static void describe(char *error, size_t size, const char *what) {
    unsigned long code = ERR_get_error();
    if (code != 0) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        snprintf(error, size, "%s: %s", what, text);
    } else if (errno != 0) {
        snprintf(error, size, "%s: %s", what, strerror(errno));
    } else {
        snprintf(error, size, "%s", what);
    }
    ERR_clear_error();
}

void tock_tls_free(tock_tls *tls) {
    if (tls == NULL) return;
    if (tls->ssl != NULL) SSL_free(tls->ssl);
    if (tls->context != NULL) SSL_CTX_free(tls->context);
    free(tls);
}

tock_tls *tock_tls_connect(int fd, const char *host, const char *ca_file, char *error, size_t error_size) {
    ERR_clear_error();
    errno = 0;
    tock_tls *tls = calloc(1, sizeof *tls);
    if (tls == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    tls->context = SSL_CTX_new(TLS_client_method());
    if (tls->context == NULL) {
        describe(error, error_size, "cannot set up TLS");
        tock_tls_free(tls);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(tls->context, TLS1_2_VERSION);
    SSL_CTX_set_verify(tls->context, SSL_VERIFY_PEER, NULL);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    // A server (or proxy) that closes without close_notify ends the stream; HTTP framing tells whether it was whole.
    SSL_CTX_set_options(tls->context, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    if (ca_file != NULL && ca_file[0] != '\0') {
        if (SSL_CTX_load_verify_locations(tls->context, ca_file, NULL) != 1) {
            char what[512];
            snprintf(what, sizeof what, "cannot read the CA certificates in %s", ca_file);
            describe(error, error_size, what);
            tock_tls_free(tls);
            return NULL;
        }
    } else if (SSL_CTX_set_default_verify_paths(tls->context) != 1) {
        describe(error, error_size, "cannot load the system's CA certificates");
        tock_tls_free(tls);
        return NULL;
    }
    tls->ssl = SSL_new(tls->context);
    if (tls->ssl == NULL || SSL_set_fd(tls->ssl, fd) != 1) {
        describe(error, error_size, "cannot set up TLS");
        tock_tls_free(tls);
        return NULL;
    }
    unsigned char address[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1) {
        // An IP literal: matched against the certificate's IP addresses (and never sent as SNI).
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls->ssl), host);
    } else {
        SSL_set_tlsext_host_name(tls->ssl, host);
        SSL_set1_host(tls->ssl, host);
    }
    if (SSL_connect(tls->ssl) != 1) {
        long verification = SSL_get_verify_result(tls->ssl);
        if (verification != X509_V_OK) {
            snprintf(error, error_size, "the server's certificate was refused: %s",
                     X509_verify_cert_error_string(verification));
            ERR_clear_error();
        } else {
            describe(error, error_size, "the TLS handshake failed");
        }
        tock_tls_free(tls);
        return NULL;
    }
    return tls;
}

ssize_t tock_tls_read(tock_tls *tls, void *buffer, size_t size, char *error, size_t error_size) {
    int wanted = size > (size_t)0x7fffffff ? 0x7fffffff : (int)size;
    while (1) {
        ERR_clear_error();
        errno = 0;
        int n = SSL_read(tls->ssl, buffer, wanted);
        if (n > 0) return n;
        int reason = SSL_get_error(tls->ssl, n);
        if (reason == SSL_ERROR_ZERO_RETURN) return 0;
        if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) continue;
        if (reason == SSL_ERROR_SYSCALL && errno == EINTR) continue;
        if (reason == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0) return 0;
        describe(error, error_size, "reading over TLS failed");
        return -1;
    }
}

int tock_tls_write(tock_tls *tls, const void *buffer, size_t size, char *error, size_t error_size) {
    const char *bytes = buffer;
    while (size > 0) {
        ERR_clear_error();
        errno = 0;
        int wanted = size > (size_t)0x7fffffff ? 0x7fffffff : (int)size;
        int n = SSL_write(tls->ssl, bytes, wanted);
        if (n > 0) {
            bytes += n;
            size -= (size_t)n;
            continue;
        }
        int reason = SSL_get_error(tls->ssl, n);
        if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) continue;
        if (reason == SSL_ERROR_SYSCALL && errno == EINTR) continue;
        describe(error, error_size, "writing over TLS failed");
        return -1;
    }
    return 0;
}
