/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
#include <string.h>

#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include "aleph_secret.h"

int aleph_secret_spec_valid(const char *spec)
{
    return (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0')
        || (strncmp(spec, "env:", 4) == 0 && spec[4] != '\0');
}

static apr_status_t read_file(apr_pool_t *p, const char *path, char **value,
                              apr_size_t *len, const char **error,
                              int *others_can_read)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char *buf;
    apr_size_t n = 0;

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        char msg[120];
        *error = apr_psprintf(p, "cannot open secret file %s: %s", path,
                              apr_strerror(rv, msg, sizeof(msg)));
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_PROT | APR_FINFO_TYPE, f);
    if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
        apr_file_close(f);
        *error = apr_psprintf(p, "secret file %s is not a regular file", path);
        return APR_EINVAL;
    }
    *others_can_read = rv == APR_SUCCESS
                       && (fi.protection & (APR_FPROT_GREAD | APR_FPROT_WREAD));
    /* One byte more than allowed tells an oversized file apart. */
    buf = apr_palloc(p, ALEPH_SECRET_MAX_LEN + 2);
    n = ALEPH_SECRET_MAX_LEN + 1;
    rv = apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        memset(buf, 0, ALEPH_SECRET_MAX_LEN + 2);
        *error = apr_psprintf(p, "cannot read secret file %s", path);
        return rv;
    }
    if (n > ALEPH_SECRET_MAX_LEN) {
        memset(buf, 0, ALEPH_SECRET_MAX_LEN + 2);
        *error = apr_psprintf(p, "secret file %s is larger than %d bytes",
                              path, ALEPH_SECRET_MAX_LEN);
        return APR_EINVAL;
    }
    buf[n] = '\0';
    *value = buf;
    *len = n;
    return APR_SUCCESS;
}

apr_status_t aleph_secret_load(apr_pool_t *p, const char *spec,
                               const char **secret, const char **error,
                               int *others_can_read)
{
    char *value = NULL;
    apr_size_t len, i;
    apr_status_t rv;

    *others_can_read = 0;
    if (!aleph_secret_spec_valid(spec)) {
        *error = "the secret must be given as file:PATH or env:NAME";
        return APR_EINVAL;
    }
    if (spec[0] == 'f') {
        rv = read_file(p, spec + 5, &value, &len, error, others_can_read);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    else {
        rv = apr_env_get(&value, spec + 4, p);
        if (rv != APR_SUCCESS || value == NULL) {
            *error = apr_psprintf(p, "environment variable %s is not set", spec + 4);
            return APR_ENOENT;
        }
        value = apr_pstrdup(p, value);
        len = strlen(value);
    }
    while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == '\r'
                       || value[len - 1] == ' ' || value[len - 1] == '\t')) {
        value[--len] = '\0';
    }
    if (len == 0) {
        *error = apr_psprintf(p, "the secret in %s is empty", spec);
        return APR_EINVAL;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
            memset(value, 0, len);
            *error = apr_psprintf(p, "the secret in %s contains control characters", spec);
            return APR_EINVAL;
        }
    }
    *secret = value;
    return APR_SUCCESS;
}

apr_status_t aleph_secret_wipe(void *secret)
{
    /* volatile: a plain memset before free may be optimised away. */
    volatile char *s = secret;

    while (*s) {
        *s++ = '\0';
    }
    return APR_SUCCESS;
}
