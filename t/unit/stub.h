/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * A one-shot loopback HTTP server forked by a unit test: it accepts one
 * connection, hands back what it received, and answers with a canned
 * response (or never, to test timeouts).
 */
#ifndef ALEPH_STUB_H
#define ALEPH_STUB_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

typedef struct {
    pid_t pid;
    int port;
    int req_fd;                 /* what the stub received */
} stub_t;

static inline void write_all(int fd, const char *s, apr_size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);

        if (n <= 0) {
            return;
        }
        s += n;
        len -= (apr_size_t)n;
    }
}

/* Reads one request: headers, then Content-Length bytes of body. */
static inline apr_size_t read_request(int fd, char *buf, apr_size_t cap)
{
    apr_size_t len = 0, want = 0;

    while (len < cap - 1) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        char *end, *cl;

        if (n <= 0) {
            break;
        }
        len += (apr_size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end) {
            continue;
        }
        cl = strcasestr(buf, "\r\nContent-Length:");
        want = (apr_size_t)(end + 4 - buf)
             + (cl ? (apr_size_t)strtoul(cl + 17, NULL, 10) : 0);
        if (len >= want) {
            break;
        }
    }
    return len;
}

/* hang: accept and read, but never answer. */
static inline int stub_start(stub_t *s, const char *response, apr_size_t len,
                      int hang)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    int lfd, pfd[2];

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0
        || listen(lfd, 1) != 0
        || getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0
        || pipe(pfd) != 0) {
        return 0;
    }
    s->port = ntohs(addr.sin_port);
    fflush(NULL);
    s->pid = fork();
    if (s->pid == 0) {
        static char req[65536];
        int cfd = accept(lfd, NULL, NULL);
        apr_size_t rlen;

        signal(SIGPIPE, SIG_IGN);
        close(pfd[0]);
        rlen = cfd >= 0 ? read_request(cfd, req, sizeof(req)) : 0;
        write_all(pfd[1], req, rlen);
        close(pfd[1]);
        if (hang) {
            pause();
        }
        write_all(cfd, response, len);
        shutdown(cfd, SHUT_WR);
        close(cfd);
        _exit(0);
    }
    close(lfd);
    close(pfd[1]);
    s->req_fd = pfd[0];
    return s->pid > 0;
}

/* Returns what the stub received and reaps it. */
static inline const char *stub_finish(apr_pool_t *p, stub_t *s)
{
    char buf[65536];
    apr_size_t len = 0;
    ssize_t n;

    while (len < sizeof(buf) - 1
           && (n = read(s->req_fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
        len += (apr_size_t)n;
    }
    buf[len] = '\0';
    close(s->req_fd);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    return apr_pstrmemdup(p, buf, len);
}

static inline const char *header_flood(apr_pool_t *p, int lines)
{
    static const char line[] =
        "X-Pad: 0123456789012345678901234567890123456789\r\n";
    apr_size_t n = sizeof(line) - 1;
    char *buf = apr_palloc(p, n * (apr_size_t)lines + 1);
    int i;

    for (i = 0; i < lines; i++) {
        memcpy(buf + n * (apr_size_t)i, line, n);
    }
    buf[n * (apr_size_t)lines] = '\0';
    return buf;
}

static inline const char *http_response(apr_pool_t *p, const char *status_line,
                                 const char *headers, const char *body)
{
    return apr_psprintf(p, "HTTP/1.1 %s\r\n%sContent-Length: %lu\r\n"
                        "Connection: close\r\n\r\n%s", status_line, headers,
                        (unsigned long)strlen(body), body);
}

#endif
